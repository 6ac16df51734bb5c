"""The bottom layer, importing nothing of the project: settings, the home layout, registry names, the tables
batch hands to serving, the audit log, the API key store, personal-data redaction and user errors."""

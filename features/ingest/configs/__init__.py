"""Adapter configs (YAML) for ``features.ingest``: one file per event-log source."""

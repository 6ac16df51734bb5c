"""Feature pipelines: event-log contract, taxonomy, text training sets and the grid x week panel."""

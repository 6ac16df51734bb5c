"""Jobs: the `gridsense` CLI, training runs and MLflow tracking/registry. Imports features/ and models/."""

"""Training runs: fit the models, compare them with baselines on held-out data, log to MLflow, register
versions. Imports core/, features/ and models/; never serving/."""

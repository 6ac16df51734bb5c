"""Batch classification of an event log with a registered text model (the polars engine's path).

One call of the MLflow pyfunc over the log's ``title`` and ``text``: ``event_id`` plus the model's
output columns (``models.pyfunc.TEXT_OUTPUT_COLUMNS``). The Spark engine runs :func:`classify_with` on
each partition with the model loaded once per executor process (``engines.spark_batch``).
"""

from __future__ import annotations

import polars as pl

_LOADED: dict[tuple, object] = {}  # (tracking URI, model URI) -> pyfunc model, one load per process


def load_pyfunc(model_uri: str, tracking_uri: str | None = None):
    """The MLflow pyfunc model at ``model_uri`` (``models:/name/version``, ``runs:/...``, a path), loaded
    once per process (Spark reuses its Python workers: once per executor). Pin a version rather than an
    alias: ``models:/name@alias`` is resolved once and kept even if the alias moves."""
    key = (tracking_uri, model_uri)
    if key not in _LOADED:
        import mlflow

        if tracking_uri:  # and the registry: a worker may have inherited another MLFLOW_REGISTRY_URI
            mlflow.set_tracking_uri(tracking_uri)
            mlflow.set_registry_uri(tracking_uri)
        _LOADED[key] = mlflow.pyfunc.load_model(model_uri)
    return _LOADED[key]


def classify_with(model, events: pl.DataFrame) -> pl.DataFrame:
    """``event_id`` and the text model's outputs, one row per event, in the events' order."""
    inputs = [name for name in ("title", "text") if name in events.columns]
    if "text" not in inputs:
        raise ValueError("classifying needs a 'text' column")
    predicted = model.predict(events.select(inputs).to_pandas())
    return pl.concat([events.select("event_id"), pl.from_pandas(predicted)], how="horizontal")


def classify_events(events: pl.DataFrame, model_uri: str, tracking_uri: str | None = None) -> pl.DataFrame:
    return classify_with(load_pyfunc(model_uri, tracking_uri), events)

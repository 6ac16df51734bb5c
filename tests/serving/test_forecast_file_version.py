"""The forecasts table's version string goes into reload logs and /readyz: it changes when the table or its
history is rewritten, and the log redaction leaves it readable (a nanosecond count was taken for a card
number: `history <CARD>`)."""

from __future__ import annotations

import os

import polars as pl

from core.pii import redact_pii
from core.tables import HISTORY_FILE
from serving.forecast_store import ForecastFileSource


def test_the_version_follows_both_files_and_survives_redaction(tmp_path):
    table = tmp_path / "latest.parquet"
    pl.DataFrame({"grid_id": ["G1"]}).write_parquet(table)
    source = ForecastFileSource(table)
    alone = source.current_version()

    history = tmp_path / HISTORY_FILE
    pl.DataFrame({"grid_id": ["G1", "G2"]}).write_parquet(history)
    with_history = source.current_version()
    assert with_history != alone and "; history " in with_history

    os.utime(history, ns=(1_764_766_671_475_579_000, 1_764_766_671_475_579_000))
    assert source.current_version() != with_history, "a rewritten history is a new version"
    assert redact_pii(source.current_version()) == source.current_version()

"""People's confirmed or corrected leaves (POST /v1/feedback) as rows the text model can learn from.

- One row per report: its latest revision that names a leaf (a later revision without a leaf does not
  undo the label).
- Texts seen twice keep their latest label (a resident's repeat, or the same report corrected twice).
- The most recent `holdout_share` of the corrections (by when they were received) is held out, not
  trained on: the promotion gate scores both models on it, so a model that fixes today's mistakes is
  preferred to one that only fits last year. Below `MIN_HOLDOUT_CORRECTIONS` corrections, nothing is
  held out (too few to judge by) and all are trained on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import polars as pl

from core.feedback_store import Feedback, latest_labels
from features.text import join_title_text

TRAIN = "train"
HOLDOUT = "corrections_holdout"
DEFAULT_HOLDOUT_SHARE = 0.2
MIN_HOLDOUT_CORRECTIONS = 20
SCHEMA = {
    "event_id": pl.String,
    "reported_at": pl.Datetime("us", "UTC"),
    "received_at": pl.Datetime("us", "UTC"),
    "text": pl.String,
    "leaf_id": pl.String,
    "answered_leaf_id": pl.String,
    "model_version": pl.String,
    "split": pl.String,
}


def corrections_frame(
    feedback: Sequence[Feedback], holdout_share: float = DEFAULT_HOLDOUT_SHARE
) -> pl.DataFrame:
    """Labelled rows from feedback, oldest correction first, with `split` train / corrections_holdout."""
    if not 0.0 <= holdout_share < 1.0:
        raise ValueError(f"holdout_share must be in [0, 1), not {holdout_share}")
    labelled = [item for item in latest_labels(feedback) if item.text.strip()]
    frame = pl.DataFrame(
        {
            "event_id": [item.report_id for item in labelled],
            "reported_at": [item.reported_at for item in labelled],
            "received_at": [item.received_at for item in labelled],
            "text": [join_title_text(item.title, item.text) for item in labelled],
            "leaf_id": [item.leaf_id for item in labelled],
            "answered_leaf_id": [item.answered_leaf_id for item in labelled],
            "model_version": [item.model_version for item in labelled],
        },
        schema={name: dtype for name, dtype in SCHEMA.items() if name != "split"},
    )
    frame = frame.unique(subset="text", keep="last", maintain_order=True).sort("received_at", "event_id")
    held = _held_out_count(frame.height, holdout_share)
    return frame.with_columns(
        pl.when(pl.int_range(pl.len()) >= frame.height - held)
        .then(pl.lit(HOLDOUT))
        .otherwise(pl.lit(TRAIN))
        .alias("split")
    )


def _held_out_count(rows: int, share: float) -> int:
    if rows < MIN_HOLDOUT_CORRECTIONS or share == 0.0:
        return 0
    return max(1, math.ceil(rows * share))

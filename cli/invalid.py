"""`gridsense train invalid`: a thin shell over `training.train_invalid` (registered in cli/app.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.console import console, timed
from core.home import DemoPaths, project_root
from core.registry import INVALID_EXPERIMENT, INVALID_MODEL_NAME


def train_invalid(
    events: Annotated[
        Path | None,
        typer.Option(help="Event log with the ground-truth invalid_reason column (default: the demo's)."),
    ] = None,
    alias: Annotated[str, typer.Option(help="Alias of the new version ('' for none).")] = "champion",
) -> None:
    """Train the invalid-report model (empty, gibberish, test, ads, abuse, thanks, out of scope), score it on
    the latest 15% of reports (and on templates training never saw), register `gridsense-invalid`."""
    from features.files import read_parquet
    from training.tracking import use_local_store
    from training.train_invalid import train_invalid_model

    root = project_root()
    path = (events or DemoPaths.under().events).resolve()
    frame = read_parquet(path, "event log", ("event_id", "reported_at", "text", "invalid_reason"))
    use_local_store(root, INVALID_EXPERIMENT)
    result = timed("train invalid model", lambda: train_invalid_model(frame, path, root, alias=alias or None))
    for split in ("test", "test_unseen"):
        s = {k.split(".", 1)[1]: v for k, v in result.metrics.items() if k.startswith(f"{split}.")}
        if s:
            console.print(
                f"  {split}: invalid F1 {s['invalid_f1']:.3f} (precision {s['invalid_precision']:.3f}, "
                f"recall {s['invalid_recall']:.3f}), reason accuracy {s['reason_accuracy']:.3f}, "
                f"needs review {s['needs_review_share']:.1%} of {int(s['rows']):,} reports"
            )
    where = (
        f"version {result.model_version}" + (f" @{alias}" if alias else "")
        if result.model_version
        else "not registered"
    )
    console.print(f"  {INVALID_MODEL_NAME}: {where} (run {result.run_id})")

"""`gridsense train invalid`: a thin shell over `training.train_invalid` (registered in cli/app.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.console import console, timed
from cli.options import SiteOption
from core.home import project_root
from core.registry import INVALID_EXPERIMENT, INVALID_MODEL_NAME
from core.sites import load_site


def train_invalid(
    events: Annotated[
        Path | None,
        typer.Option(help="Event log with the ground-truth invalid_reason column (default: the demo's)."),
    ] = None,
    alias: Annotated[str, typer.Option(help="Alias of the new version ('' for none).")] = "champion",
    site: SiteOption = None,
) -> None:
    """Train the invalid-report model (empty, gibberish, test, ads, abuse, thanks, out of scope), score it on
    the latest 15% of reports (and on templates training never saw), register the site's `gridsense-invalid`
    (`gridsense-invalid-<site>` for another site than the demo)."""
    from features.files import read_parquet
    from training.tracking import use_local_store
    from training.train_invalid import train_invalid_model

    root, current = project_root(), load_site(site)
    path = (events or current.require_events()).resolve()
    frame = read_parquet(path, "event log", ("event_id", "reported_at", "text", "invalid_reason"))
    use_local_store(root, current.model_name(INVALID_EXPERIMENT))
    result = timed(
        "train invalid model",
        lambda: train_invalid_model(frame, path, root, alias=alias or None, site=current.name),
    )
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
    console.print(f"  {current.model_name(INVALID_MODEL_NAME)}: {where} (run {result.run_id})")

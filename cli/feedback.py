"""`gridsense benchmark corrections`: replay late traffic through intake, label what the review queue (or
chance) picks through /v1/feedback, retrain text with the corrections, promote through the gate, and score
the phrasings the training set never had (evaluation/correction_replay.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.console import console, print_result
from cli.options import SiteOption, TaxonomyOption
from core.sites import load_site


def export_feedback(
    out: Annotated[Path, typer.Option(help="Parquet file to write.")] = Path("traffic_with_feedback.parquet"),
    site: SiteOption = None,
) -> None:
    """The reports intake answered (redacted) with the leaf a person gave them, as traffic for
    `gridsense monitor --reports FILE`: its correction rate by category comes from `corrected_leaf_id`."""
    import polars as pl

    from core.errors import GridSenseUserError
    from core.feedback_store import (
        SqliteFeedbackStore,
        StoreUnavailableError,
        latest_labels,
    )
    from core.settings import Settings
    from monitoring.traffic import CORRECTION_COLUMN

    path = Settings(site=load_site(site).name).report_store_path
    if not path.exists():
        raise GridSenseUserError(f"no report store at {path}", "intake writes it: POST /v1/intake")
    store = SqliteFeedbackStore(path)
    try:
        rows = store.answered_reports()
        labels = {f.report_id: f.leaf_id for f in latest_labels(store.feedback())}
    except StoreUnavailableError as exc:
        raise GridSenseUserError(
            f"cannot read the report store: {exc}", "retry when it is not locked"
        ) from exc
    finally:
        store.close()
    frame = pl.DataFrame(
        rows,
        schema=["id", "reported_at", "title", "text", "answered_leaf_id", "model_version"],
        orient="row",
    ).with_columns(
        pl.col("reported_at").dt.strftime("%Y-%m-%dT%H:%M:%S%z"),
        pl.col("id").replace_strict(labels, default=None, return_dtype=pl.String).alias(CORRECTION_COLUMN),
    )
    frame.write_parquet(out)
    console.print(f"  {frame.height:,} reports, {len(labels):,} with a person's leaf -> {out}")


def benchmark_corrections(
    data: Annotated[
        Path | None, typer.Option(help="Text training set with template_id (default: the site's).")
    ] = None,
    taxonomy: TaxonomyOption = None,
    corrections: Annotated[int, typer.Option(min=1, help="Reports labelled per arm.")] = 200,
    seeds: Annotated[str, typer.Option(help="Comma-separated seeds.")] = "0,1,2",
    weight: Annotated[float | None, typer.Option(help="Copies of each correction.")] = None,
    traffic_limit: Annotated[
        int | None, typer.Option(help="Replay at most this many reports per seed (a quick run).")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Also write the JSON report here.")] = None,
    site: SiteOption = None,
) -> None:
    """Queue-chosen against randomly chosen corrections: leaf macro-F1 on unseen phrasings after retrain and
    promote, per seed."""
    from core.errors import GridSenseUserError
    from core.settings import Settings
    from evaluation.correction_replay import ReplayOptions, replay
    from features.files import read_parquet
    from features.taxonomy import load_taxonomy
    from features.text_dataset import TEXT_DATASET_COLUMNS

    current = load_site(site)
    path = (data or current.paths.text_dataset).resolve()
    dataset = read_parquet(path, "text training set", TEXT_DATASET_COLUMNS)
    try:
        chosen_seeds = tuple(int(seed) for seed in seeds.split(","))
    except ValueError as exc:
        raise GridSenseUserError(f"--seeds {seeds!r} is not a comma-separated list of integers") from exc
    options = ReplayOptions(
        corrections=corrections,
        seeds=chosen_seeds,
        weight=weight or Settings(site=current.name).feedback_weight,
        holdout_share=Settings(site=current.name).feedback_holdout_share,
        traffic_limit=traffic_limit,
    )
    try:
        taxonomy_ = load_taxonomy(taxonomy or current.taxonomy)
        report = replay(dataset, path, taxonomy_, options, promote_in, progress=console.print)
    except ValueError as exc:
        raise GridSenseUserError(
            str(exc), "build the set from a log with template ids (the demo city)"
        ) from exc
    console.print(
        f"  before: unseen-phrasing macro-F1 {report['before']['unseen']:.4f}; after, median: "
        + ", ".join(f"{arm} {value:.4f}" for arm, value in report["median_unseen"].items())
    )
    print_result(report, out)


def promote_in(work: Path, dataset: Path):
    """`gridsense promote text` on the replay's own registry: the real gate, on the dataset's test split."""
    from mlflow import MlflowClient

    from core.audit import AuditLog
    from core.registry import TEXT_MODEL_NAME
    from core.settings import tracking_uri
    from promotion.registry_ops import default_evaluator, promote

    uri = tracking_uri(work)
    client = MlflowClient(uri, uri)
    audit = AuditLog(work / ".gridsense" / "audit.jsonl")
    return promote(
        client, TEXT_MODEL_NAME, audit, "replay", evaluator=default_evaluator(TEXT_MODEL_NAME, dataset)
    )

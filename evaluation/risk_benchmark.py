"""`gridsense benchmark risk`: rolling-origin backtest of the risk forecaster on any event log.

    gridsense benchmark risk --adapter chicago \\
        --events ../shared/data/chicago_crime_2016_2017/chicago_crime_visible.csv.gz \\
        --test-from 2017-04-01 --test-to 2017-09-30 --out chicago_report.json

Steps: ingest with the adapter (``features.ingest``) -> point-in-time panel -> for every test week,
train on the past only (``evaluation.backtest``), score the week, score the baselines on the same rows
-> report (JSON), plots (hit rate by week, reliability) into MLflow and ``docs/img/``, the metrics of
every test week as MLflow steps, the data fingerprint and feature list, and a ``gridsense-risk-benchmark``
version (a name of its own: benchmark models are never served) trained on all labelled weeks.

Only complete weeks are tested: a week whose seven days are not all inside the log would undercount.
``--ablation`` repeats the backtest without each feature family (``features.panel_families``), and
with counts only, and adds the table to the report.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from evaluation.backtest import MODEL, SERVED, BacktestResult, BacktestSpec, ceilings, run_backtest

HEADLINE = ("hit_5", "hit_10", "pai_5", "ap", "brier", "ece", "ece_pooled")
HEADROOM_METRICS = ("hit_5", "hit_10", "ap")
# LightGBM with one thread: OpenMP threads spin-wait, and on a busy 2-core machine two are far slower.
BENCHMARK_MODEL_DEFAULTS: dict[str, Any] = {
    "n_jobs": 1,
    "learning_rate": 0.1,
    "num_leaves": 15,
    "min_child_samples": 100,
    "colsample_bytree": 0.5,
    "refit": False,
}


# ---- the run -------------------------------------------------------------------------------------------
def run(
    adapter: str,
    events: Path,
    test_from: date,
    test_to: date | None = None,
    cell_size_m: float | None = None,
    retrain_every: int = 1,
    objective: str | None = None,
    units: Path | None = None,
    ablation: bool = False,
    ablation_retrain_every: int = 4,
    progress=None,
    model_overrides: dict | None = None,
    text_classifier=None,
):
    """Everything but the files: returns (report dict, BacktestResult, panel, ingested log)."""
    from features.ingest import ingest, panel_from_log

    say = progress or (lambda message: None)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    log = ingest(adapter, events, cell_size_m=cell_size_m, units_path=units, text_classifier=text_classifier)
    timings["ingest_s"] = round(time.perf_counter() - started, 2)
    say(
        f"ingested {log.events.height:,} events, {log.units.height:,} units ({timings['ingest_s']}s); "
        f"rejected {log.rejects}"
    )
    started = time.perf_counter()
    panel = panel_from_log(log)
    timings["panel_s"] = round(time.perf_counter() - started, 2)
    say(f"panel {panel.height:,} rows x {panel.width} columns ({timings['panel_s']}s)")
    spec = BacktestSpec(
        test_from=test_from,
        test_to=test_to,
        retrain_every=retrain_every,
        groups=log.groups,
        model_params=model_params(log.config.model, objective, model_overrides),
    )
    grids = log.units.rename({"unit_id": "grid_id"})
    complete = last_complete_week(log.events)
    result = run_backtest(panel, grids, spec, last_complete_week=complete)
    say(f"backtest: {len(result.folds)} fits in {result.seconds}s")
    report = build_report(adapter, events, log, panel, spec, result, timings)
    if ablation:
        report["ablation"] = run_ablation(panel, grids, spec, ablation_retrain_every, complete, say)
    return report, result, panel, log


def champion_text_classifier(say):
    """texts -> the L2 category the registered text champion predicts (``features.ingest.gridsense``)."""
    import mlflow

    from core.home import project_root
    from core.registry import TEXT_MODEL_NAME
    from core.settings import tracking_uri
    from features.taxonomy import load_taxonomy

    uri = tracking_uri(project_root())
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    classifier = (
        mlflow.pyfunc.load_model(f"models:/{TEXT_MODEL_NAME}@champion").unwrap_python_model().classifier
    )
    taxonomy = getattr(classifier, "taxonomy_", None) or load_taxonomy()

    def classify(texts):
        started = time.perf_counter()
        leaves = classifier.predict(list(texts))
        say(f"text model: {len(texts):,} texts classified in {time.perf_counter() - started:.1f}s")
        return [taxonomy.leaf(leaf).l2 for leaf in leaves]

    return classify


def model_params(config_model: dict, objective: str | None, overrides: dict | None = None) -> dict:
    params = {**BENCHMARK_MODEL_DEFAULTS, **config_model}
    if objective:
        params["objective"] = objective
    return {**params, **(overrides or {})}


def last_complete_week(events: pl.DataFrame) -> date:
    """The Monday of the last week whose seven days all lie inside the log."""
    last_day = events.get_column("reported_at").max().date()
    sunday = last_day if last_day.weekday() == 6 else last_day - timedelta(days=last_day.weekday() + 1)
    return sunday - timedelta(days=6)


def run_ablation(
    panel: pl.DataFrame, grids: pl.DataFrame, spec: BacktestSpec, retrain_every: int, complete: date, say
) -> dict[str, Any]:
    """Headline metrics with all features, with counts only, and without each family present."""
    from dataclasses import replace

    from features.panel import feature_columns
    from features.panel_families import FAMILIES, by_family

    columns = feature_columns(panel)
    present = {f for g in spec.groups for f, cols in by_family(columns, g).items() if cols}
    variants: dict[str, tuple[str, ...]] = {"all features": ()}
    variants["counts only"] = tuple(f for f in FAMILIES if f != "counts")
    variants.update({f"without {f}": (f,) for f in FAMILIES if f in present and f != "counts"})
    table: dict[str, Any] = {"retrain_every": retrain_every, "rows": {}}
    for name, dropped in variants.items():
        result = run_backtest(
            panel,
            grids,
            replace(spec, retrain_every=retrain_every, drop_families=dropped),
            last_complete_week=complete,
        )
        summary = result.summary()
        table["rows"][name] = {
            group: {
                metric: summary[group][MODEL][metric] for metric in ("hit_5", "hit_10", "ap", "ece_pooled")
            }
            for group in spec.groups
        }
        table["rows"][name]["seconds"] = result.seconds
        say(f"ablation {name}: {result.seconds}s")
    best = run_backtest(
        panel, grids, replace(spec, retrain_every=retrain_every), last_complete_week=complete
    ).comparison()
    table["best_baseline"] = {
        group: {
            m: {"name": best[group][m]["best_baseline"], "value": best[group][m]["baseline"]}
            for m in ("hit_5", "hit_10", "ap")
        }
        for group in spec.groups
    }
    return table


def build_report(adapter, events, log, panel, spec, result: BacktestResult, timings) -> dict[str, Any]:
    from training.tracking import fingerprint

    summary, comparison = result.summary(), result.comparison()
    weeks = sorted({w for f in result.folds for w in f.weeks})
    return {
        "adapter": log.config.name,
        "adapter_arg": str(adapter),
        "events": str(events),
        "data": asdict(fingerprint(log.events, events, "reported_at")),
        "rejects": log.rejects,
        "units": log.units.height,
        "cell_size_m": log.config.place.get("cell_size_m"),
        "groups": list(spec.groups),
        "test_weeks": [str(w) for w in weeks],
        "test_from": str(weeks[0]),
        "test_to": str(weeks[-1]),
        "retrain_every": spec.retrain_every,
        "model_params": spec.model_params,
        "feature_count": {g: len(c) for g, c in result.features.items()},
        "timings": {
            **timings,
            "backtest_s": result.seconds,
            "fits": len(result.folds),
            "mean_fit_s": round(float(np.mean([f.seconds for f in result.folds])), 2),
        },
        "metrics": summary,
        "comparison": comparison,
        "calibration": calibration_summary(result),
        "ceiling": (ceiling := ceiling_summary(result, comparison)),
        "headroom": headroom_summary(comparison, ceiling),
        "served_choices": result.choices,
        "folds": [
            {**asdict(f), "weeks": [str(w) for w in f.weeks], "first_week": str(f.first_week)}
            for f in result.folds
        ],
    }


def ceiling_summary(result: BacktestResult, comparison: dict) -> dict[str, Any]:
    """The oracles' metrics (``evaluation.backtest.ceilings``) and their ratio to the best baseline: the
    most any forecaster of rates could gain on this test window."""
    out: dict[str, Any] = {}
    for group, oracles in ceilings(result).items():
        out[group] = {}
        for oracle, metrics in oracles.items():
            out[group][oracle] = {
                m: {"value": v, "ratio_to_best_baseline": v / comparison[group][m]["baseline"]}
                for m, v in metrics.items()
                if m in comparison[group] and comparison[group][m]["baseline"]
            }
    return out


def headroom_summary(comparison: dict, ceiling: dict) -> dict[str, dict[str, dict[str, float]]]:
    """group -> metric -> the best baseline, model, served and oracle-rate values, and the share of the
    headroom each scorer captures: (scorer - best baseline) / (oracle rate - best baseline). 1 = as good
    as knowing every unit's true rate over the test window, 0 = the best baseline, < 0 below it.
    ``loo_share``: the same share for the leave-the-week-out oracle (``oracle_rate_loo``), i.e. how much
    of the headroom is there without the scored week's own events."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for group, metrics in comparison.items():
        oracle = ceiling.get(group, {}).get("oracle_rate", {})
        loo = ceiling.get(group, {}).get("oracle_rate_loo", {})
        out[group] = {}
        for metric in HEADROOM_METRICS:
            if metric not in metrics or metric not in oracle:
                continue
            row = metrics[metric]
            base, top = row["baseline"], oracle[metric]["value"]
            entry = {"best_baseline": base, "model": row["model"], "oracle_rate": top}
            entry["model_share"] = headroom_share(row["model"], base, top)
            if "served" in row:
                entry["served"] = row["served"]
                entry["served_share"] = headroom_share(row["served"], base, top)
            if metric in loo:
                entry["oracle_rate_loo"] = loo[metric]["value"]
                entry["loo_share"] = headroom_share(loo[metric]["value"], base, top)
            out[group][metric] = entry
    return out


def headroom_share(value: float, baseline: float, ceiling: float) -> float:
    """(value - baseline) / (ceiling - baseline); nan when the ceiling is not above the baseline."""
    room = ceiling - baseline
    return float((value - baseline) / room) if room > 0 else float("nan")


def calibration_summary(result: BacktestResult, draws: int = 20, seed: int = 0) -> dict[str, Any]:
    """The model's ECE per group: pooled over the test window, per retraining fold (pooled over its weeks),
    per week (mean, max, weeks above 0.03), and the per-week noise floor: the mean weekly ECE of outcomes
    drawn from the model's own probabilities, i.e. what a perfectly calibrated forecaster would score
    with this few units per week."""
    from models.scoring import expected_calibration_error

    rng = np.random.default_rng(seed)
    model = result.predictions.filter(pl.col("scorer") == MODEL)
    out = {}
    for group in model["group"].unique().sort().to_list():
        rows = model.filter(pl.col("group") == group)
        per_fold = []
        for fold in (f for f in result.folds if f.group == group):
            part = rows.filter(pl.col("week_start").is_in(fold.weeks))
            per_fold.append(expected_calibration_error(part["probability"].to_numpy(), part["y"].to_numpy()))
        weekly = result.weekly.filter((pl.col("group") == group) & (pl.col("scorer") == MODEL))["ece"]
        floor = [
            expected_calibration_error(p, (rng.random(len(p)) < p).astype(float))
            for _, week in rows.group_by("week_start")
            for p in [week["probability"].to_numpy()]
            for _ in range(draws)
        ]
        out[group] = {
            "ece_pooled": expected_calibration_error(rows["probability"].to_numpy(), rows["y"].to_numpy()),
            "ece_fold_max": float(np.max(per_fold)),
            "ece_week_mean": float(weekly.mean()),
            "ece_week_max": float(weekly.max()),
            "weeks_with_ece_above_0.03": int((weekly > 0.03).sum()),
            "ece_week_noise_floor": float(np.mean(floor)),
        }
    return out


# ---- outputs -------------------------------------------------------------------------------------------
def write_plots(result: BacktestResult, adapter: str, folder: Path) -> list[Path]:
    from evaluation.risk_plots import hit_rate_by_week_plot
    from training.plots import reliability_plot

    folder.mkdir(parents=True, exist_ok=True)
    comparison = result.comparison()
    paths = []
    for group in comparison:
        best = comparison[group]["hit_5"]["best_baseline"]
        weekly = result.weekly.filter(pl.col("group") == group)
        series = {
            name: weekly.filter(pl.col("scorer") == name).sort("week_start")["hit_5"].to_list()
            for name in (MODEL, best)
        }
        weeks = weekly.filter(pl.col("scorer") == MODEL).sort("week_start")["week_start"].to_list()
        paths.append(
            hit_rate_by_week_plot(
                weeks,
                series,
                folder / f"risk_{adapter}_{group}_hit5_by_week.png",
                title=f"{adapter} {group}: hit rate @5% by test week (model vs best baseline)",
            )
        )
        rows = result.predictions.filter((pl.col("group") == group) & (pl.col("scorer") == MODEL))
        paths.append(
            reliability_plot(
                rows["probability"].to_numpy(),
                rows["y"].to_numpy(),
                folder / f"risk_{adapter}_{group}_reliability.png",
                title=f"{adapter} {group}: reliability over the test window",
            )
        )
    return paths


def markdown_summary(report: dict[str, Any]) -> str:
    lines = [
        f"## {report['adapter']} {report['test_from']}..{report['test_to']} "
        f"({len(report['test_weeks'])} weeks, {report['units']} units, "
        f"retrain every {report['retrain_every']})"
    ]
    for group, metrics in report["comparison"].items():
        lines += [
            "",
            f"### {group}",
            "",
            "| metric | model | served | best baseline | baseline | ratio | served ratio |",
            "|---|---|---|---|---|---|---|",
        ]
        for name in HEADLINE:
            if name in metrics:
                m, nan = metrics[name], float("nan")
                lines.append(
                    f"| {name} | {m['model']:.4f} | {m.get('served', nan):.4f} | {m['best_baseline']} "
                    f"| {m['baseline']:.4f} | {m['ratio']:.3f} | {m.get('served_ratio', nan):.3f} |"
                )
        ceiling = report.get("ceiling", {}).get(group, {}).get("oracle_rate", {})
        if ceiling:
            lines.append(
                "| ceiling (oracle rate) | "
                + ", ".join(
                    f"{m} {v['value']:.4f} = {v['ratio_to_best_baseline']:.3f}x"
                    for m, v in ceiling.items()
                    if m in ("hit_5", "ap")
                )
                + " | | | | | |"
            )
        headroom = report.get("headroom", {}).get(group, {})
        if headroom:
            lines.append(
                "| headroom captured (served / model) | "
                + ", ".join(
                    f"{m} {h.get('served_share', float('nan')):.0%} / {h['model_share']:.0%}"
                    f" (oracle without the week {h.get('loo_share', float('nan')):.0%})"
                    for m, h in headroom.items()
                )
                + " | | | | | |"
            )
        picks = [c["label"] for c in report.get("served_choices", []) if c["group"] == group]
        if picks:
            counts = {label: picks.count(label) for label in dict.fromkeys(picks)}
            ece = report["metrics"][group].get(SERVED, {}).get("ece_pooled", float("nan"))
            lines.append(
                "| served scorer by fold | "
                + ", ".join(f"{label} x{n}" for label, n in counts.items())
                + f"; pooled ECE {ece:.4f}"
                + " | | | | | |"
            )
    if "ablation" in report:
        lines += ["", markdown_ablation(report["ablation"])]
    return "\n".join(lines)


def markdown_ablation(table: dict[str, Any]) -> str:
    groups = list(table["best_baseline"])
    header = "| features | " + " | ".join(f"{g} hit@5% | {g} AP" for g in groups) + " | seconds |"
    lines = [header, "|" + "---|" * (2 * len(groups) + 2)]
    for name, row in table["rows"].items():
        cells = " | ".join(f"{row[g]['hit_5']:.4f} | {row[g]['ap']:.4f}" for g in groups)
        lines.append(f"| {name} | {cells} | {row['seconds']:.0f} |")
    best = " | ".join(
        f"{table['best_baseline'][g]['hit_5']['value']:.4f} ({table['best_baseline'][g]['hit_5']['name']}) | "
        f"{table['best_baseline'][g]['ap']['value']:.4f} ({table['best_baseline'][g]['ap']['name']})"
        for g in groups
    )
    lines.append(f"| best baseline | {best} | |")
    return "\n".join(lines)


def log_to_mlflow(report, result: BacktestResult, panel, log, plots, report_path: Path, register: bool):
    import mlflow

    from core.home import project_root
    from core.registry import RISK_BENCHMARK_NAME
    from training.tracking import git_commit, use_local_store

    root = project_root()
    use_local_store(root, RISK_BENCHMARK_NAME)
    with mlflow.start_run(run_name=f"risk-backtest-{report['adapter']}") as run:
        mlflow.set_tags(
            {"adapter": report["adapter"], "git_commit": git_commit(root), "kind": "rolling-backtest"}
        )
        mlflow.log_params({f"data.{k}": v for k, v in report["data"].items()})
        mlflow.log_params(
            {
                "adapter": report["adapter"],
                "test_from": report["test_from"],
                "test_to": report["test_to"],
                "retrain_every": report["retrain_every"],
                "units": report["units"],
                "cell_size_m": report["cell_size_m"],
                **{f"model.{k}": v for k, v in report["model_params"].items()},
            }
        )
        _log_weekly(result)
        for group, scorers in report["metrics"].items():
            mlflow.log_metrics(
                {
                    f"{scorer}.{group}.{m}": v
                    for scorer, ms in scorers.items()
                    for m, v in ms.items()
                    if np.isfinite(v)
                }
            )
        mlflow.log_metrics({f"timing.{k}": float(v) for k, v in report["timings"].items()})
        mlflow.log_dict(result.features, "features/feature_list.json")
        for path in plots:
            mlflow.log_artifact(str(path), artifact_path="plots")
        mlflow.log_artifact(str(report_path), artifact_path="report")
        version = _register_final(panel, report, log) if register else None
    return run.info.run_id, version


def _log_weekly(result: BacktestResult) -> None:
    """Per test week (step = week number in the test window) the metrics of every scorer."""
    import mlflow

    weeks = sorted(result.weekly["week_start"].unique().to_list())
    step_of = {week: i for i, week in enumerate(weeks)}
    for row in result.weekly.iter_rows(named=True):
        values = {
            f"week.{row['scorer']}.{row['group']}.{k}": v
            for k, v in row.items()
            if k not in ("week_start", "group", "scorer") and v is not None and np.isfinite(v)
        }
        mlflow.log_metrics(values, step=step_of[row["week_start"]])


def _register_final(panel: pl.DataFrame, report: dict, log) -> str:
    """Fit on every labelled week and register it (tags say which data; no alias, so nothing serves it)."""
    from core.registry import RISK_BENCHMARK_NAME
    from models.pyfunc import log_risk_model
    from models.risk_lgbm import RiskForecaster
    from training.tracking import register

    params = {k: v for k, v in report["model_params"].items()}
    labelled = panel.filter(pl.col(f"y_{report['groups'][0]}").is_not_null())
    model = RiskForecaster(groups=tuple(report["groups"]), **params).fit(labelled)
    info = log_risk_model(model, None)
    return register(
        info.model_uri,
        RISK_BENCHMARK_NAME,
        alias=None,
        tags={
            "adapter": report["adapter"],
            "benchmark": "true",
            "data.content_hash": report["data"]["content_hash"],
        },
    )


def parse_day(text: str) -> date:
    return date.fromisoformat(text)

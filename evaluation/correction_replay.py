"""`gridsense benchmark corrections`: does the loop teach the model the phrasings it never saw?

On a text training set whose later reports use phrasings the training split never had (the demo city's
late templates), for each seed and each way of choosing what people label:

1. The champion is trained on the `train` split (once, shared by every arm).
2. The `valid` split is the replayed traffic: a seeded 75% of it goes through `POST /v1/intake` of the real
   app (in process, the champion loaded from the registry, a fresh report store per arm).
3. `n` reports are labelled with their true leaf through `POST /v1/feedback`: the first `n` of
   `GET /v1/review-queue` ("queue"), or `n` drawn at random from the same traffic ("random").
4. `retrain text` (the same training code, with the feedback store's corrections) registers a challenger,
   and `promote` runs the real gate, which also scores both on the newest corrections held out.
5. The champion after the gate is scored on the `test` split, never replayed: leaf macro-F1 on all of it
   and on its reports whose template the training split never had (`template_id`).
"""

from __future__ import annotations

import random
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from core.feedback_store import SqliteFeedbackStore
from core.keys import KeyFile, Role
from core.registry import CHALLENGER, CHAMPION, TEXT_EXPERIMENT, TEXT_MODEL_NAME
from core.settings import Settings, tracking_uri
from features.corrections import corrections_frame
from features.taxonomy import Taxonomy
from models.scoring import text_metrics

ARMS = ("queue", "random")
TRAFFIC_SHARE = 0.75
BATCH = 32


@dataclass(frozen=True)
class ReplayOptions:
    corrections: int = 200
    seeds: tuple[int, ...] = (0, 1, 2)
    weight: float = 3.0
    holdout_share: float = 0.2
    traffic_limit: int | None = None  # replay at most this many reports per seed (quick runs)


Promote = Callable[[Path, Path], Any]  # (work folder, dataset) -> a result with .promoted, .explanation


def replay(
    dataset: pl.DataFrame,
    dataset_path: Path,
    taxonomy: Taxonomy,
    options: ReplayOptions,
    promote: Promote,
    work: Path | None = None,
    progress: Callable[[str], None] = print,
) -> dict:
    """Every arm for every seed; figures in a JSON-ready dict. `promote` runs the real gate on the work
    folder's registry (`promotion.registry_ops`, which this layer may not import: the CLI passes it)."""
    if "template_id" not in dataset.columns:
        raise ValueError("the dataset has no template_id column: unseen phrasings cannot be told apart")
    if work is None:
        with tempfile.TemporaryDirectory(prefix="gridsense-replay-") as tmp:
            return replay(dataset, dataset_path, taxonomy, options, promote, Path(tmp), progress)
    test = dataset.filter(pl.col("split") == "test")
    seen = dataset.filter(pl.col("split") == "train").get_column("template_id").unique().implode()
    unseen = test.filter(~pl.col("template_id").is_in(seen))
    champion = _train(dataset, dataset_path, taxonomy, work, None, options, CHAMPION)
    progress(f"champion trained: unseen-phrasing macro-F1 {_score(champion, unseen, taxonomy):.4f}")
    before = {"all": _score(champion, test, taxonomy), "unseen": _score(champion, unseen, taxonomy)}
    runs = []
    for seed in options.seeds:
        traffic = _traffic(dataset, seed, options.traffic_limit)
        for arm in ARMS:
            result = _one_arm(arm, seed, traffic, dataset, dataset_path, taxonomy, work, options, progress)
            promoted = promote(work, dataset_path)
            result |= {"promoted": promoted.promoted, "gate": promoted.explanation}
            model = _champion_model(work)
            result |= {
                "macro_f1_leaf_all": _score(model, test, taxonomy),
                "macro_f1_leaf_unseen": _score(model, unseen, taxonomy),
            }
            progress(
                f"seed {seed} {arm}: promoted {result['promoted']}, unseen-phrasing macro-F1 "
                f"{result['macro_f1_leaf_unseen']:.4f} (all {result['macro_f1_leaf_all']:.4f})"
            )
            runs.append(result)
            _restore_champion(work, champion_version="1")
    return _summary(before, runs, options, test.height, unseen.height)


def _traffic(dataset: pl.DataFrame, seed: int, limit: int | None) -> pl.DataFrame:
    valid = dataset.filter(pl.col("split") == "valid")
    picked = valid.sample(fraction=TRAFFIC_SHARE, seed=seed, shuffle=False).sort("reported_at")
    return picked.head(limit) if limit else picked


def _one_arm(
    arm: str,
    seed: int,
    traffic: pl.DataFrame,
    dataset: pl.DataFrame,
    dataset_path: Path,
    taxonomy: Taxonomy,
    work: Path,
    options: ReplayOptions,
    progress: Callable[[str], None],
) -> dict:
    from fastapi.testclient import TestClient

    from serving.main import create_app

    store_path = work / f"reports-{arm}-{seed}.sqlite"
    settings = _settings(work, store_path)
    keys = KeyFile(settings.api_keys_path)
    intake = {"X-API-Key": keys.create(Role.INTAKE, label="replay intake").key}
    supervisor = {"X-API-Key": keys.create(Role.SUPERVISOR, label="replay supervisor").key}
    truth = dict(zip(traffic.get_column("event_id"), traffic.get_column("leaf_id"), strict=True))
    with TestClient(create_app(settings)) as api:
        for start in range(0, traffic.height, BATCH):
            chunk = traffic.slice(start, BATCH)
            items = [
                {"id": row["event_id"], "text": row["text"], "reported_at": row["reported_at"].isoformat()}
                for row in chunk.iter_rows(named=True)
            ]
            response = api.post("/v1/intake", json={"items": items}, headers=intake)
            response.raise_for_status()
        chosen = _choose(arm, api, supervisor, list(truth), options.corrections, seed)
        order = list(chosen)
        random.Random(seed).shuffle(order)  # people label the queue in their own order
        for report_id in order:
            body = {"report_id": report_id, "revision": 1, "leaf_id": truth[report_id]}
            api.post("/v1/feedback", json=body, headers=supervisor).raise_for_status()
    store = SqliteFeedbackStore(store_path)
    feedback = store.feedback()
    store.close()
    corrections = corrections_frame(feedback, options.holdout_share)
    wrong_before = sum(item.answered_leaf_id != item.leaf_id for item in feedback)  # each row: the truth
    progress(
        f"seed {seed} {arm}: {len(chosen)} labelled ({wrong_before} corrections of wrong answers); retraining"
    )
    _train(dataset, dataset_path, taxonomy, work, corrections, options, CHALLENGER, str(store_path))
    return {
        "seed": seed,
        "arm": arm,
        "traffic": traffic.height,
        "labelled": len(chosen),
        "model_was_wrong": wrong_before,
    }


def _choose(arm: str, api, headers: dict, traffic_ids: list[str], n: int, seed: int) -> list[str]:
    if arm == "queue":
        response = api.get("/v1/review-queue", params={"limit": n}, headers=headers)
        response.raise_for_status()
        return [item["report_id"] for item in response.json()["items"]]
    return random.Random(seed).sample(traffic_ids, n)


def _settings(work: Path, store_path: Path) -> Settings:
    return Settings(
        home=work,
        report_store_path=store_path,
        report_retention_days=3650,  # the replayed reports are from the log's past
        serve_risk=False,
        reload_interval_seconds=0,
        keys_refresh_seconds=0,
        rate_limit_intake="1000000/second",  # the replay is one client sending a month at once
        rate_limit_supervisor="1000000/second",
    )


def _train(dataset, dataset_path, taxonomy, work, corrections, options, alias, source: str = ""):
    from training.tracking import use_local_store
    from training.train_text import train_text_model

    use_local_store(work, TEXT_EXPERIMENT)
    train_text_model(
        dataset,
        taxonomy,
        dataset_path,
        work,
        alias=alias,
        corrections=corrections,
        correction_weight=options.weight,
        corrections_source=source,
    )
    return _champion_model(work) if alias == CHAMPION else None


def _champion_model(work: Path):
    import mlflow

    uri = tracking_uri(work)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return mlflow.pyfunc.load_model(f"models:/{TEXT_MODEL_NAME}@{CHAMPION}").unwrap_python_model().classifier


def _restore_champion(work: Path, champion_version: str) -> None:
    """The next arm starts from the same champion."""
    from mlflow import MlflowClient

    uri = tracking_uri(work)
    MlflowClient(uri, uri).set_registered_model_alias(TEXT_MODEL_NAME, CHAMPION, champion_version)


def _score(model, rows: pl.DataFrame, taxonomy: Taxonomy) -> float:
    predicted = model.predict(rows.get_column("text").to_list())
    return float(text_metrics(rows.get_column("leaf_id").to_list(), predicted, taxonomy)["macro_f1_leaf"])


def _summary(
    before: dict, runs: list[dict], options: ReplayOptions, test_rows: int, unseen_rows: int
) -> dict:
    by_arm = {arm: [run["macro_f1_leaf_unseen"] for run in runs if run["arm"] == arm] for arm in ARMS}
    paired = [q - r for q, r in zip(by_arm["queue"], by_arm["random"], strict=True)]
    return {
        "options": options.__dict__ | {"seeds": list(options.seeds)},
        "test_rows": test_rows,
        "unseen_phrasing_rows": unseen_rows,
        "before": before,
        "runs": runs,
        "median_unseen": {arm: float(np.median(values)) for arm, values in by_arm.items()},
        "queue_minus_random": paired,
        "queue_better_in_every_seed": all(d > 0 for d in paired),
    }

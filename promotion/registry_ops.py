"""Promotion, rollback and listing in the MLflow model registry.

Aliases: every training run registers a new version as `challenger`; `champion` is what serving loads.
`promote` moves `champion` to the challenger only when the challenger passes its version checks (its
stored validation sample, `promotion.version_check`) and beats the champion on the same evaluation set
under the model's `PromotionRule`; otherwise it refuses and says why. `--force` with a reason overrides
and records the reason on the version. Each champion change is appended to an append-only history
(`promotion.champion_history`); `previous_champion` names the one a plain rollback would go back to.

`rollback` only goes to a version that was champion before, and only if it passes the same version
checks now (a refused candidate is tagged and reported); a plain rollback walks the lineage back and
skips candidates that fail. A rollback is a new history entry, never a rewrite. Promotions and
rollbacks run under the registry lock (a file lock in the project home), so two operators never
interleave their read-modify-write of the aliases and the history.

Same evaluation set:
- text: both versions are loaded and scored now on the test split of one dataset (by default the one
  the challenger was trained on: it is the newest, so neither model has seen it);
- risk: the registered forecaster is refitted on every labelled week, so re-scoring it would be
  in-sample. The backtest metrics logged by each run are compared instead, and only when both runs were
  evaluated on the same data (same content hash and test window); otherwise the gate refuses.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from core.audit import AuditLog
from core.registry import (
    CHALLENGER,
    CHAMPION,
    CORRECTIONS_ARTIFACT_DIR,
    CORRECTIONS_HOLDOUT_FILE,
    DEMO_SITE,
    RISK_MODEL_NAME,
    SITE_TAG,
    TEXT_MODEL_NAME,
    alias_version,
    base_model_name,
    read_versions,
    run_metrics,
)
from features.corrections import HOLDOUT as CORRECTIONS_HOLDOUT
from promotion import champion_history
from promotion.champion_history import Entry
from promotion.version_check import VersionCheck, default_version_check

PREVIOUS_CHAMPION = "previous_champion"
VALIDATION_TAG = "validation_check"


class PromotionError(RuntimeError):
    """The operation cannot be done (no challenger, no history, ...); the message says why."""


# ---- the rule ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PromotionRule:
    """The challenger must beat the champion on `primary` by more than `min_gain`, and may not fall
    behind on any guard metric by more than its allowed drop (all metrics: higher is better; 0.002 is
    0.2 percentage points). A routine retrain on newer data (`retrain=True`: the champion's configuration
    refitted on the challenger's data) need only not be worse: `primary` may drop by `retrain_drop`.
    `group_guards` guard every metric of either run ending in the suffix (`.average_precision`: each risk
    group's, whatever groups the site has); a group only one of them holds is a missing metric, a refusal."""

    primary: str
    min_gain: float = 0.0
    guards: dict[str, float] = field(default_factory=dict)
    retrain_drop: float = 0.002
    group_guards: dict[str, float] = field(default_factory=dict)  # metric-name suffix -> allowed drop
    recent: str | None = None  # a metric on the newest corrections, when both runs have it
    recent_drop: float = 0.0

    def decide(
        self, champion: dict[str, float], challenger: dict[str, float], retrain: bool = False
    ) -> GateDecision:
        primary = self._check_not_worse if retrain else self._check_primary
        checks = [primary(champion, challenger)]
        guards = self.guards | self._group_guards(champion, challenger)
        if self.recent is not None and self.recent in champion and self.recent in challenger:
            checks[0] = self._primary_or_recent(checks[0], champion, challenger)
            guards[self.recent] = self.recent_drop
        checks += [self._check_guard(name, drop, champion, challenger) for name, drop in guards.items()]
        return GateDecision(passed=all(check.passed for check in checks), checks=checks)

    def _group_guards(self, champion: dict[str, float], challenger: dict[str, float]) -> dict[str, float]:
        names = sorted(set(champion) | set(challenger))
        return {
            name: drop
            for suffix, drop in self.group_guards.items()
            for name in names
            if name.endswith(suffix) and name != self.primary
        }

    def _primary_or_recent(
        self, primary: Check, champion: dict[str, float], challenger: dict[str, float]
    ) -> Check:
        """A challenger that is better on the newest corrections passes when it is not worse than the
        champion on the evaluation set (within `retrain_drop`): it fixes today's mistakes."""
        if primary.passed:
            return primary
        recent = replace(self, primary=self.recent)._check_primary(champion, challenger)
        holds = self._check_guard(self.primary, self.retrain_drop, champion, challenger)
        return Check(
            self.primary,
            primary.champion,
            primary.challenger,
            recent.passed and holds.passed,
            f"{primary.message}; but on the newest corrections: {recent.message}; {holds.message}",
        )

    def _check_primary(self, champion: dict[str, float], challenger: dict[str, float]) -> Check:
        old, new = _metric(champion, self.primary), _metric(challenger, self.primary)
        passed = new - old > self.min_gain
        verdict = "better" if passed else "not better"
        return Check(
            self.primary,
            old,
            new,
            passed,
            f"{verdict} on {self.primary}: {new:.4f} vs {old:.4f} (needs a gain above {self.min_gain:.4f})",
        )

    def _check_not_worse(self, champion: dict[str, float], challenger: dict[str, float]) -> Check:
        check = self._check_guard(self.primary, self.retrain_drop, champion, challenger)
        return Check(
            check.metric, check.champion, check.challenger, check.passed, f"retrain: {check.message}"
        )

    @staticmethod
    def _check_guard(
        name: str, drop: float, champion: dict[str, float], challenger: dict[str, float]
    ) -> Check:
        old, new = _metric(champion, name), _metric(challenger, name)
        passed = new >= old - drop - 1e-12
        verdict = "holds" if passed else "worse"
        return Check(
            name, old, new, passed, f"{name} {verdict}: {new:.4f} vs {old:.4f} (may drop at most {drop:.4f})"
        )


@dataclass(frozen=True)
class Check:
    metric: str
    champion: float
    challenger: float
    passed: bool
    message: str


@dataclass(frozen=True)
class GateDecision:
    passed: bool
    checks: list[Check]

    @property
    def summary(self) -> str:
        return "; ".join(check.message for check in self.checks)


def _metric(metrics: dict[str, float], name: str) -> float:
    value = metrics.get(name)
    if value is None or not math.isfinite(value):
        raise PromotionError(f"metric {name!r} is missing or not finite (have: {sorted(metrics)[:8]})")
    return float(value)


# by model (a site's copy, `gridsense-risk-chicago`, follows its model's rule: `rule_for`)
PROMOTION_RULES: dict[str, PromotionRule] = {
    TEXT_MODEL_NAME: PromotionRule(
        primary="macro_f1_leaf",
        guards={"macro_f1_l1": 0.002},
        recent=f"{CORRECTIONS_HOLDOUT}.accuracy",
    ),
    RISK_MODEL_NAME: PromotionRule(
        primary="mean_average_precision", group_guards={".average_precision": 0.002}
    ),
}


def rule_for(name: str) -> PromotionRule:
    """The promotion rule of a registered name, any site's."""
    base = base_model_name(name)
    if base not in PROMOTION_RULES:
        raise PromotionError(f"{name} is no model GridSense promotes ({', '.join(PROMOTION_RULES)})")
    return PROMOTION_RULES[base]


# ---- evaluation on one set --------------------------------------------------------------------------
@dataclass(frozen=True)
class Comparison:
    eval_set: str  # what both were evaluated on
    champion: dict[str, float]
    challenger: dict[str, float]
    retrain: bool = False  # the champion's configuration was refitted on the challenger's (newer) data


Evaluator = Callable[[Any, str, str, str], Comparison]  # (client, name, champion, challenger)


def evaluate_text_versions(data: Path | None = None) -> Evaluator:
    """Score both text versions now on the test split of `data` (default: the challenger's dataset)."""

    def evaluate(client: Any, name: str, champion: str, challenger: str) -> Comparison:
        path = data or Path(_run_params(client, name, challenger).get("data.path", ""))
        if not path.is_file():
            raise PromotionError(f"evaluation dataset {path} not found; pass --data")
        test = pl.read_parquet(path).filter(pl.col("split") == "test")
        if test.is_empty():
            raise PromotionError(f"{path} has no rows in the test split")
        texts, truth = test.get_column("text").to_list(), test.get_column("leaf_id").to_list()
        scores = {version: _score_text(name, version, texts, truth) for version in (champion, challenger)}
        eval_set = f"{path} test split ({test.height} reports)"
        held = _corrections_holdout(client, name, challenger)
        if held is not None:
            for version in (champion, challenger):
                scores[version] |= _score_holdout(name, version, held)
            eval_set += f" and the {held.height} newest corrections held out"
        return Comparison(eval_set, scores[champion], scores[challenger])

    return evaluate


def _corrections_holdout(client: Any, name: str, version: str) -> pl.DataFrame | None:
    """The newest corrections the version's run held out (`gridsense retrain text`), if it had any."""
    run_id = client.get_model_version(name, version).run_id
    listed = (
        {item.path for item in client.list_artifacts(run_id, CORRECTIONS_ARTIFACT_DIR)} if run_id else set()
    )
    artifact = f"{CORRECTIONS_ARTIFACT_DIR}/{CORRECTIONS_HOLDOUT_FILE}"
    if artifact not in listed:
        return None
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        return pl.read_parquet(client.download_artifacts(run_id, artifact, tmp))


def _score_holdout(name: str, version: str, held: pl.DataFrame) -> dict[str, float]:
    import mlflow

    from training.train_text import holdout_scores

    classifier = mlflow.pyfunc.load_model(f"models:/{name}/{version}").unwrap_python_model().classifier
    known = held.filter(pl.col("leaf_id").is_in(set(classifier.taxonomy_.leaf_ids)))
    if known.height < held.height:
        raise PromotionError(f"version {version} cannot be scored on the corrections (taxonomy differs)")
    scores = holdout_scores(classifier, held, classifier.taxonomy_)
    return {f"{CORRECTIONS_HOLDOUT}.{k}": v for k, v in scores.items()}


def _score_text(name: str, version: str, texts: list[str], truth: list[str]) -> dict[str, float]:
    import mlflow

    from models.scoring import text_metrics

    classifier = mlflow.pyfunc.load_model(f"models:/{name}/{version}").unwrap_python_model().classifier
    predicted = list(classifier.predict(texts))
    try:
        return text_metrics(truth, predicted, classifier.taxonomy_)
    except KeyError as exc:  # a leaf of the evaluation set is not in this model's taxonomy
        raise PromotionError(
            f"version {version} cannot be scored on this set (taxonomy differs: {exc})"
        ) from exc


RISK_EVAL_SET_PARAMS = ("data.content_hash", "data.rows", "split.test_from", "split.test_weeks")


def compare_logged_risk_metrics(client: Any, name: str, champion: str, challenger: str) -> Comparison:
    """Both scored on the challenger's evaluation window: the logged backtests when both ran on the same
    panel and window; otherwise (a retrain on newer data) the champion's configuration is refitted on the
    challenger's panel and scored on the challenger's test weeks, exactly as the challenger was."""
    params = {version: _run_params(client, name, version) for version in (champion, challenger)}
    identity = {
        version: {key: params[version].get(key) for key in RISK_EVAL_SET_PARAMS} for version in params
    }
    eval_set = (
        f"panel {identity[challenger]['data.content_hash']} from {params[challenger].get('split.test_from')}"
    )
    challenger_metrics = _risk_view(_run_metrics(client, name, challenger))
    if identity[champion] == identity[challenger]:
        champion_metrics = _risk_view(_run_metrics(client, name, champion))
        return Comparison(eval_set, champion_metrics, challenger_metrics)
    refitted = _refit_on(name, champion, params[challenger])
    return Comparison(
        f"{eval_set} (champion's configuration refitted on it)", refitted, challenger_metrics, True
    )


def _refit_on(name: str, champion: str, challenger_params: dict[str, str]) -> dict[str, float]:
    """The champion's estimator parameters fitted on the challenger's training weeks and scored on its
    test weeks."""
    import mlflow

    from features.panel import feature_columns, read_panel
    from models.risk_lgbm import RiskForecaster
    from training.tracking import fingerprint
    from training.train_risk import evaluate, split_by_weeks

    path = challenger_params.get("data.path")
    if not path or "split.test_weeks" not in challenger_params:
        raise PromotionError("the challenger's run does not say which panel and test weeks it used")
    panel = read_panel(path)
    if fingerprint(panel, path, "week_start").content_hash != challenger_params.get("data.content_hash"):
        raise PromotionError(f"the challenger's panel {path} has changed since it was trained; retrain it")
    configuration = mlflow.pyfunc.load_model(f"models:/{name}/{champion}").unwrap_python_model()
    train, test, _ = split_by_weeks(panel, int(challenger_params["split.test_weeks"]))
    model = RiskForecaster(**configuration.forecaster.get_params())
    model.fit(train, feature_columns=feature_columns(panel))
    metrics, _ = evaluate(model, test)
    return _risk_view({key: value for key, value in metrics.items() if math.isfinite(value)})


def _risk_view(metrics: dict[str, float]) -> dict[str, float]:
    """`model.<group>.<metric>` -> `<group>.<metric>`, plus the mean average precision over groups."""
    view = {key.removeprefix("model."): value for key, value in metrics.items() if key.startswith("model.")}
    precisions = [value for key, value in view.items() if key.endswith(".average_precision")]
    if precisions:
        view["mean_average_precision"] = sum(precisions) / len(precisions)
    return view


def default_evaluator(name: str, data: Path | None = None) -> Evaluator:
    if base_model_name(name) == RISK_MODEL_NAME:
        return compare_logged_risk_metrics
    return evaluate_text_versions(data)


# ---- operations ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PromotionResult:
    promoted: bool
    name: str
    champion_before: str | None
    challenger: str
    decision: GateDecision | None
    comparison: Comparison | None
    forced: bool = False
    reason: str | None = None

    @property
    def explanation(self) -> str:
        if self.decision is None:
            return self.reason or ""
        return self.decision.summary


def promote(
    client: Any,
    name: str,
    audit: AuditLog,
    actor: str,
    evaluator: Evaluator | None = None,
    rule: PromotionRule | None = None,
    force: bool = False,
    reason: str | None = None,
    version_check: VersionCheck | None = None,
    lock: AbstractContextManager | None = None,
) -> PromotionResult:
    """Move `champion` to the `challenger` version if it passes its version checks and the gate (or
    `force` with a reason)."""
    if force and not (reason and reason.strip()):
        raise PromotionError("--force needs --reason: say why the gate is overridden")
    with lock or nullcontext():
        return _promote(client, name, audit, actor, evaluator, rule, force, reason, version_check)


def _promote(
    client: Any,
    name: str,
    audit: AuditLog,
    actor: str,
    evaluator: Evaluator | None,
    rule: PromotionRule | None,
    force: bool,
    reason: str | None,
    version_check: VersionCheck | None,
) -> PromotionResult:
    challenger = alias_version(client, name, CHALLENGER)
    if challenger is None:
        raise PromotionError(f"{name} has no {CHALLENGER!r} version; train one with `gridsense retrain`")
    champion = alias_version(client, name, CHAMPION)
    if champion == challenger:
        raise PromotionError(f"version {challenger} is already the {CHAMPION}")
    decision = comparison = None

    def record_refusal(why: str, **details: Any) -> None:
        audit.record(
            "promote",
            actor,
            outcome="refused",
            model=name,
            champion=champion,
            challenger=challenger,
            why=why,
            **details,
        )

    try:
        checked = _check(client, name, challenger, champion, version_check)
        if champion is None:
            passed, why = True, f"no champion yet: the first version becomes champion; {checked}"
        else:
            comparison = (evaluator or default_evaluator(name))(client, name, champion, challenger)
            decision = (rule or rule_for(name)).decide(
                comparison.champion, comparison.challenger, retrain=comparison.retrain
            )
            passed, why = decision.passed, f"{decision.summary}; {checked}"
    except PromotionError as exc:
        if not force:
            record_refusal(str(exc))
            raise
        passed, why = False, f"gate could not run: {exc}"
    result = PromotionResult(
        passed or force,
        name,
        champion,
        challenger,
        decision,
        comparison,
        forced=force and not passed,
        reason=reason if force else why,
    )
    if not result.promoted:
        record_refusal(why, eval_set=comparison.eval_set if comparison else None)
        return result
    _set_champion(client, name, challenger, champion, "forced" if result.forced else "promote")
    tags = {
        "promoted_at": _now(),
        "promoted_by": actor,
        "promotion_gate": "forced" if result.forced else "passed",
        "promotion_evidence": why[:4000],
    }
    if force:
        tags["promotion_reason"] = reason or ""
    for key, value in tags.items():
        client.set_model_version_tag(name, challenger, key, value)
    audit.record(
        "promote",
        actor,
        outcome="forced" if result.forced else "promoted",
        model=name,
        champion_before=champion,
        champion=challenger,
        why=why,
        reason=reason,
        eval_set=comparison.eval_set if comparison else None,
    )
    return result


@dataclass(frozen=True)
class RollbackResult:
    name: str
    champion_before: str
    champion: str
    evidence: str  # what the version checks found
    skipped: dict[str, str] = field(default_factory=dict)  # earlier champions refused on the way: why


def rollback(
    client: Any,
    name: str,
    audit: AuditLog,
    actor: str,
    to_version: str | None = None,
    version_check: VersionCheck | None = None,
    lock: AbstractContextManager | None = None,
) -> RollbackResult:
    """Point `champion` back at an earlier champion that passes the version checks now: `to_version`, or
    by default the latest one in the lineage before the current champion (refused candidates skipped)."""
    with lock or nullcontext():
        current = alias_version(client, name, CHAMPION)
        if current is None:
            raise PromotionError(f"{name} has no {CHAMPION}")
        history = champion_history.read(client, name)
        try:
            target, evidence, skipped = _rollback_target(
                client, name, current, history, to_version, version_check
            )
        except PromotionError as exc:
            audit.record("rollback", actor, outcome="refused", model=name, champion=current, why=str(exc))
            raise
        entries = [] if _in_lineage_top(history, current) else [Entry.now(current, "adopted")]
        history = champion_history.append(client, name, *entries, Entry.now(target, "rollback"))
        client.set_registered_model_alias(name, CHAMPION, target)
        _point_previous(client, name, champion_history.lineage(history))
        client.set_model_version_tag(name, target, "rolled_back_to_at", _now())
        audit.record(
            "rollback",
            actor,
            model=name,
            champion_before=current,
            champion=target,
            evidence=evidence,
            skipped=skipped or None,
        )
    return RollbackResult(name, current, target, evidence, skipped)


def _rollback_target(
    client: Any,
    name: str,
    current: str,
    history: list[Entry],
    to_version: str | None,
    version_check: VersionCheck | None,
) -> tuple[str, str, dict[str, str]]:
    """(version, evidence, skipped candidates and why) or PromotionError."""
    if to_version is not None:
        to_version = str(to_version)
        if to_version == current:
            raise PromotionError(f"version {to_version} is already the {CHAMPION}")
        if to_version not in champion_history.former_champions(history):
            raise PromotionError(
                f"version {to_version} was never {CHAMPION}, so rollback cannot vouch for it; to serve it, "
                f"point {CHALLENGER!r} at it and run `gridsense promote` (the gate decides)"
            )
        return to_version, _check(client, name, to_version, current, version_check), {}
    stack = champion_history.lineage(history)
    candidates = list(dict.fromkeys(v for v in reversed(stack) if v != current))
    if not candidates:
        raise PromotionError(f"{name} has no earlier champion to roll back to")
    skipped: dict[str, str] = {}
    for candidate in candidates:
        try:
            return candidate, _check(client, name, candidate, current, version_check), skipped
        except PromotionError as exc:
            skipped[candidate] = str(exc)
    raise PromotionError(
        "no earlier champion passes the checks: " + "; ".join(f"{v}: {why}" for v, why in skipped.items())
    )


def _check(
    client: Any, name: str, version: str, champion: str | None, version_check: VersionCheck | None
) -> str:
    """Run the version checks; the outcome is tagged on the version. PromotionError when refused."""
    check = version_check or default_version_check()
    try:
        evidence = check(client, name, version, champion)
    except Exception as exc:
        why = str(exc) or type(exc).__name__
        client.set_model_version_tag(name, version, VALIDATION_TAG, f"failed {_now()}: {why}"[:4000])
        raise PromotionError(why) from exc
    client.set_model_version_tag(name, version, VALIDATION_TAG, f"passed {_now()}: {evidence}"[:4000])
    return evidence


def _in_lineage_top(history: list[Entry], version: str) -> bool:
    stack = champion_history.lineage(history)
    return bool(stack) and stack[-1] == version


@dataclass(frozen=True)
class VersionRow:
    site: str
    name: str
    version: str
    aliases: list[str]
    created_at: str
    metrics: dict[str, float]
    tags: dict[str, str]
    provenance: dict[str, str]  # which data and taxonomy it was trained on


# by model: metric names, `*` standing for each risk group the run holds
KEY_METRICS = {
    TEXT_MODEL_NAME: ("test.macro_f1_leaf", "test.macro_f1_l1", "test.ece_leaf"),
    RISK_MODEL_NAME: ("model.*.average_precision", "model.*.top10_share"),
}


def key_metrics(name: str, metrics: dict[str, float]) -> dict[str, float]:
    """The metrics `gridsense models` shows for a version of `name` (any site's), in KEY_METRICS order."""
    wanted = KEY_METRICS.get(base_model_name(name), ())
    return {key: metrics[key] for pattern in wanted for key in sorted(fnmatch.filter(metrics, pattern))}


def list_versions(client: Any, name: str, site: str = DEMO_SITE) -> list[VersionRow]:
    """Every version of `name` (a name of `site`), newest first, with aliases, key metrics, provenance and
    promotion tags."""
    try:
        versions = read_versions(client, name)
    except Exception:  # not registered yet
        return []
    return [
        VersionRow(
            site=version.tags.get(SITE_TAG, site),
            name=name,
            version=version.version,
            aliases=version.aliases,
            created_at=version.created_at.isoformat(timespec="minutes") if version.created_at else "",
            metrics=key_metrics(name, version.metrics),
            tags=version.tags,
            provenance=version.provenance,
        )
        for version in versions
    ]


# ---- registry helpers -----------------------------------------------------------------------------------
def _set_champion(client: Any, name: str, version: str, previous: str | None, action: str) -> None:
    history = champion_history.read(client, name)
    entries = []
    if previous is not None and not _in_lineage_top(history, previous):
        entries.append(Entry.now(previous, "adopted"))  # a champion set outside promotion (the demo)
    history = champion_history.append(client, name, *entries, Entry.now(version, action))
    client.set_registered_model_alias(name, CHAMPION, version)
    _point_previous(client, name, champion_history.lineage(history))


def _point_previous(client: Any, name: str, lineage: list[str]) -> None:
    earlier = [version for version in lineage[:-1] if version != lineage[-1]] if lineage else []
    if earlier:
        client.set_registered_model_alias(name, PREVIOUS_CHAMPION, earlier[-1])
    else:
        try:
            client.delete_registered_model_alias(name, PREVIOUS_CHAMPION)
        except Exception:
            pass


def _run_params(client: Any, name: str, version: str) -> dict[str, str]:
    run_id = client.get_model_version(name, version).run_id
    return dict(client.get_run(run_id).data.params) if run_id else {}


def _run_metrics(client: Any, name: str, version: str) -> dict[str, float]:
    return run_metrics(client, client.get_model_version(name, version).run_id)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")

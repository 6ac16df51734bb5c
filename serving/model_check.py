"""The check a text model version must pass before it is served (hot swap, start-up, the cached copy),
and the lighter re-check at every poll while it is served.

Before serving, the version is scored through the same service code requests use
(`TextClassifierService.predict`) on the validation sample stored with it at training time
(`models.validation_sample`): batches as the micro-batcher forms them, one report alone, and a few with
evidence. It is refused when any call raises, any answer is malformed (no leaf, a probability that is
not a finite number in [0, 1]) or it scores below the floor taken from its recorded metrics (recorded
accuracy and macro-F1 on that sample minus `GRIDSENSE_VALIDATION_TOLERANCE`).

Versions registered without a sample (before issue 10): `GRIDSENSE_UNSAMPLED_MODELS=refuse` (the
default) refuses them; `probe` accepts them when they answer every one of a few built-in reports of
different categories validly and with at least :data:`PROBE_MIN_LEAVES` different leaves.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Literal

from models.validation_sample import ValidationFailed, ValidationSample, check_text
from serving.schemas import ClassifyResult
from serving.text_service import PreparedItem, TextClassifierService

BATCH_ITEMS = 64  # as GRIDSENSE_MICROBATCH_MAX_ITEMS: how requests reach the model
EVIDENCE_ITEMS = 3
RECHECK_ITEMS = 8
PROBE_MIN_LEAVES = 2
PROBE_REPORTS: tuple[str, ...] = (
    "小区3号楼楼道里堆满杂物，消防通道被堵死了，物业也不管。",
    "楼上邻居每天半夜装修，电钻声吵得全家睡不着。",
    "人行道上的井盖丢了一个，晚上很危险，已经有人差点掉进去。",
    "路口有流动摊贩占道经营卖水果，堵得车都过不去。",
    "小区门口的路灯坏了半个月了，晚上一片漆黑。",
    "工地拖欠农民工工资三个月，老板一直躲着不见人。",
    "家门口的下水道堵了，污水漫到路面上，臭味很大。",
    "餐馆把油烟直接排到居民楼里，窗户都不敢开。",
)

UnsampledPolicy = Literal["refuse", "probe"]


class TextModelCheck:
    """Callable check of a loaded text service; `sample_for(version)` finds the sample stored with a
    version (None when it has none)."""

    def __init__(
        self,
        sample_for: Callable[[str], ValidationSample | None],
        tolerance: float,
        unsampled: UnsampledPolicy = "refuse",
    ) -> None:
        self.sample_for = sample_for
        self.tolerance = tolerance
        self.unsampled = unsampled
        self._samples: dict[str, ValidationSample | None] = {}

    def __call__(self, service: TextClassifierService) -> str:
        """Before serving: raises `ValidationFailed` (or whatever the model raises) to refuse the version;
        returns a one-line summary."""
        sample = self._sample(service)
        if sample is None:
            return self._probe(service)
        results = answers(service, sample.texts)
        return check_text(sample, [result.leaf_id for result in results], self.tolerance)

    def recheck(self, service: TextClassifierService) -> str:
        """While serving (every poll): a few stored reports still get valid answers."""
        sample = self._sample(service, refuse=False)
        texts = sample.texts[:RECHECK_ITEMS] if sample is not None else list(PROBE_REPORTS)
        answers(service, texts, evidence_items=0, alone=0)
        return f"answers {len(texts)} reports"

    def _sample(self, service: TextClassifierService, refuse: bool = True) -> ValidationSample | None:
        version = service.model.version or ""
        if version not in self._samples:
            self._samples = {version: self.sample_for(version)}  # one version at a time is enough
        sample = self._samples[version]
        if sample is None and refuse and self.unsampled == "refuse":
            raise ValidationFailed(
                "no validation sample is stored with this version (registered before the stored-sample "
                "check); retrain it, or set GRIDSENSE_UNSAMPLED_MODELS=probe to accept it on the built-in "
                "probe reports"
            )
        return sample

    @staticmethod
    def _probe(service: TextClassifierService) -> str:
        leaves = {result.leaf_id for result in answers(service, list(PROBE_REPORTS))}
        if len(leaves) < PROBE_MIN_LEAVES:
            raise ValidationFailed(
                f"{len(leaves)} different answer(s) to {len(PROBE_REPORTS)} probe reports of different "
                f"categories; at least {PROBE_MIN_LEAVES} expected"
            )
        return f"no stored sample: {len(leaves)} different leaves on {len(PROBE_REPORTS)} probe reports"


def answers(
    service: TextClassifierService,
    texts: Sequence[str],
    evidence_items: int = EVIDENCE_ITEMS,
    alone: int = 1,
) -> list[ClassifyResult]:
    """The service's answers to `texts` in request-sized batches (plus `alone` reports one at a time and
    `evidence_items` with evidence); raises on the first failure or malformed answer."""
    results: list[ClassifyResult] = []
    for start in range(0, len(texts), BATCH_ITEMS):
        batch = texts[start : start + BATCH_ITEMS]
        items = [PreparedItem(str(i), text) for i, text in enumerate(batch)]
        results += _valid(service.predict(items), batch)
    for text in texts[:alone]:
        _valid(service.predict([PreparedItem("0", text)]), [text])
    wanted = texts[:evidence_items]
    if wanted:
        items = [PreparedItem(str(i), text, evidence=True) for i, text in enumerate(wanted)]
        _valid(service.predict(items), wanted)
    return results


def _valid(results: Sequence[ClassifyResult], texts: Sequence[str]) -> Sequence[ClassifyResult]:
    if len(results) != len(texts):
        raise ValidationFailed(f"{len(results)} answers for {len(texts)} reports")
    for result in results:
        scores = [result.category_l1, result.category_l2, result.category_l3]
        probabilities = [score.probability for score in scores]
        probabilities += [item.probability for item in [*result.alternatives, *result.labels]]
        bad = [p for p in probabilities if not (math.isfinite(p) and 0.0 <= p <= 1.0)]
        if not result.leaf_id or bad:
            raise ValidationFailed(f"malformed answer: leaf {result.leaf_id!r}, probabilities {bad}")
    return results

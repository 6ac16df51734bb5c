"""POST /v1/intake behind the router: the recent-report store, duplicate search, the invalid-report
model, built once per worker from the settings on the first intake call.

A store that is missing or locked never fails a call: the search is skipped with the reason, the report
goes to the spool file (replayed into the store when it answers), and /readyz lists a warning. The
invalid-report model (`gridsense-invalid@champion`, H7's contract: a pyfunc taking `title`, `text` and
returning `invalid`, `reason`, `confidence`) is used when it is registered; a background thread tries to
load it at start and again every few minutes, so no request waits for MLflow.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import accumulate
from typing import Any
from zoneinfo import ZoneInfo

from core import registry
from core.feedback_store import Answer, SqliteFeedbackStore
from core.report_store import SpoolingReportStore, StoreUnavailableError
from core.settings import Settings, sqlite_path
from core.tables import GRIDS_FILE
from models.duplicate_search import DuplicateSearch, Incoming, Outcome
from models.duplicates import DuplicateParams
from models.grid_neighbours import GridNeighbours
from models.invalid_pyfunc import own_classifier
from models.pyfunc import prepared_report_texts
from monitoring.scoring import VocabularyCache, unseen_ngram_share
from serving.combining import Combiner
from serving.intake_schemas import (
    DuplicateCheck,
    DuplicateMatch,
    DuplicateModelRef,
    IntakeItem,
    IntakeResult,
    InvalidVerdict,
)
from serving.schemas import ClassifyItem, ClassifyResult, ModelRef

logger = logging.getLogger(__name__)

INVALID_RETRY_SECONDS = 300.0
COMBINED_MAX_ITEMS = 128  # reports of concurrent intake calls done as one batch


class InvalidModelSlot:
    """The invalid-report model when one is registered; loaded off the request path."""

    def __init__(self, settings: Settings, name: str | None = None) -> None:
        self.settings = settings
        self.name = name or registry.site_model_name(registry.INVALID_MODEL_NAME, settings.site)
        self.model: Any = None
        self.version: str | None = None
        self.last_error: str | None = "not loaded yet"
        self._last_attempt = -INVALID_RETRY_SECONDS
        self._lock = threading.Lock()

    def refresh_soon(self) -> None:
        """Start a background load when none was tried lately (never blocks)."""
        if self.model is not None or time.monotonic() - self._last_attempt < INVALID_RETRY_SECONDS:
            return
        if self._lock.acquire(blocking=False):
            self._last_attempt = time.monotonic()
            threading.Thread(target=self._load, name="gridsense-invalid-load", daemon=True).start()

    def _load(self) -> None:
        try:
            import mlflow
            from mlflow import MlflowClient

            uri = self.settings.mlflow_tracking_uri
            database = sqlite_path(uri)
            if database is not None and not database.exists():  # never create a store by looking
                raise FileNotFoundError(f"MLflow database {database} does not exist")
            client = MlflowClient(uri, uri)
            version = client.get_model_version_by_alias(self.name, registry.CHAMPION).version
            mlflow.set_tracking_uri(uri)
            mlflow.set_registry_uri(uri)
            self.model = mlflow.pyfunc.load_model(f"models:/{self.name}/{version}")
            self.version, self.last_error = str(version), None
            logger.info("invalid-report model %s version %s loaded", self.name, version)
        except Exception as exc:  # not registered yet, registry down: intake goes on without it
            self.last_error = f"{type(exc).__name__}: {exc}"
            logger.info("invalid-report model %s not available: %s", self.name, self.last_error)
        finally:
            self._lock.release()

    def predict(
        self, titles: Sequence[str | None], texts: Sequence[str | None]
    ) -> list[InvalidVerdict | None]:
        model = self.model
        if model is None or not texts:
            return [None] * len(texts)
        titles, texts = [t or "" for t in titles], [t or "" for t in texts]
        try:
            classifier = own_classifier(model)  # GridSense's own model is asked directly
            if classifier is not None:
                out = classifier.decide(prepared_report_texts(texts, titles))
            else:
                import pandas as pd

                out = model.predict(pd.DataFrame({"title": titles, "text": texts}))
            ref = ModelRef(name=self.name, version=self.version)
            columns = [
                out[name].tolist() if name in out else [None] * len(out) for name in ("reason", "confidence")
            ]
            return [
                InvalidVerdict(
                    invalid=bool(invalid),
                    reason=_text_or_none(reason),
                    confidence=_float_or_none(confidence),
                    model=ref,
                )
                for invalid, reason, confidence in zip(out["invalid"].tolist(), *columns, strict=True)
            ]
        except Exception as exc:
            logger.warning("invalid-report model failed (%s); answering without it", exc)
            return [None] * len(texts)


def _text_or_none(value: Any) -> str | None:
    """A reason code; None for None, NaN (pandas' missing value) and empty text."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    return str(value) or None


def _float_or_none(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def report_store(settings: Settings) -> SpoolingReportStore:
    """The store intake writes; its spool lives in the home's .gridsense/ (there even when the store's
    directory is missing). That directory is GridSense's own, so it is made; any other directory of the
    store must exist (a missing volume degrades intake instead of filling the wrong disk)."""
    own = settings.home / ".gridsense"
    if settings.report_store_path.parent == own:
        own.mkdir(parents=True, exist_ok=True)
    return SpoolingReportStore.sqlite(
        settings.report_store_path, settings.report_retention_days, settings.home / ".gridsense"
    )


@dataclass(frozen=True)
class IntakeCall:
    """One POST /v1/intake's part after classification."""

    items: Sequence[IntakeItem]
    ids: Sequence[str]
    classified: dict[str, ClassifyResult]
    text_service: Any
    texts: dict[str, str]


def _by_text_service(calls: Sequence[IntakeCall]) -> list[tuple[Any, list[IntakeCall]]]:
    groups: dict[int, tuple[Any, list[IntakeCall]]] = {}
    for call in calls:
        groups.setdefault(id(call.text_service), (call.text_service, []))[1].append(call)
    return list(groups.values())


class IntakeService:
    def __init__(
        self,
        search: DuplicateSearch,
        store: SpoolingReportStore,
        invalid: InvalidModelSlot | None,
        timezone: str,
        window_days: float,
        answers: SqliteFeedbackStore | None = None,
    ) -> None:
        self.search = search
        self.store = store
        self._combiner: Combiner[IntakeCall, list[IntakeResult]] = Combiner(
            self._take_in_together,
            size=lambda call: len(call.items),
            keys=lambda call: call.ids,
            max_size=COMBINED_MAX_ITEMS,
        )
        self.invalid = invalid
        self.timezone = ZoneInfo(timezone)
        self.window_days = window_days
        self.answers = answers
        self._vocabulary = VocabularyCache()

    @classmethod
    def from_settings(cls, settings: Settings) -> IntakeService:
        store = report_store(settings)
        grids = settings.dashboard_tables_dir / GRIDS_FILE
        neighbours = None
        if grids.exists():
            try:
                neighbours = GridNeighbours.from_file(grids)
            except Exception as exc:
                logger.warning("cannot read the grids table %s (%s): grid ids are not checked", grids, exc)
        context = settings.duplicate_context_params
        search = DuplicateSearch(
            store,
            DuplicateParams.load(),
            neighbours,
            settings.duplicate_window_days,
            context_params=DuplicateParams.load(context) if context is not None else None,
        )
        invalid = InvalidModelSlot(settings)
        invalid.refresh_soon()
        answers = SqliteFeedbackStore(settings.report_store_path)
        return cls(search, store, invalid, settings.site_timezone, settings.duplicate_window_days, answers)

    def start_warming(self) -> None:
        """Fill the duplicate search's in-memory window off the request path (seconds at a million
        stored reports); a request arriving meanwhile waits for it instead of reading it again."""
        threading.Thread(target=self._warm, name="gridsense-intake-warm", daemon=True).start()

    def _warm(self) -> None:
        try:
            self.search.warm(datetime.now(UTC))
        except Exception as exc:  # the first request reads the window itself
            logger.warning("intake: the duplicate window was not read at start-up (%s)", exc)

    @property
    def duplicate_model(self) -> DuplicateModelRef:
        params = self.search.params
        return DuplicateModelRef(
            duplicate_threshold=params.duplicate_threshold,
            related_threshold=params.related_threshold,
            mlflow_run_id=params.mlflow_run_id,
            window_days=self.window_days,
        )

    def ids(self, items: Sequence[IntakeItem]) -> list[str]:
        return [item.id or uuid.uuid4().hex for item in items]

    @staticmethod
    def classify_item(item: IntakeItem, item_id: str) -> ClassifyItem | None:
        """What /v1/classify would read; None when there is nothing to classify."""
        text = item.text if item.text and item.text.strip() else None
        title = item.title if item.title and item.title.strip() else None
        if text is None and title is None:
            return None
        return ClassifyItem(id=item_id, title=title if text else None, text=text or title)

    def process(
        self, items: Sequence[IntakeItem], ids: Sequence[str], classified: dict[str, ClassifyResult]
    ) -> list[IntakeResult]:
        """Invalid check, duplicate search and storage (blocking: call it off the event loop)."""
        if self.invalid is not None:
            self.invalid.refresh_soon()
        incoming = [
            self._incoming(item, item_id, classified.get(item_id))
            for item, item_id in zip(items, ids, strict=True)
        ]
        verdicts = (
            self.invalid.predict([i.title for i in incoming], [i.text for i in incoming])
            if self.invalid is not None
            else [None] * len(incoming)
        )
        outcomes = self.search.process(incoming)
        return [
            IntakeResult(
                id=item_id,
                classification=classified.get(item_id),
                not_classified=None if item_id in classified else "the report has no title and no text",
                invalid=verdict,
                duplicates=_check(outcome),
                stored=outcome.stored,
            )
            for item_id, verdict, outcome in zip(ids, verdicts, outcomes, strict=True)
        ]

    def _incoming(self, item: IntakeItem, item_id: str, result: ClassifyResult | None) -> Incoming:
        at = item.reported_at or datetime.now(UTC)
        if at.tzinfo is None:
            at = at.replace(tzinfo=self.timezone)
        text = item.text if item.text and item.text.strip() else None
        return Incoming(
            id=item_id,
            title=item.title,
            text=text or (item.title if item.title and item.title.strip() else None),
            reported_at=at.astimezone(UTC),
            grid_id=item.grid_id,
            place=item.place,
            leaf_id=result.leaf_id if result else None,
        )

    def take_in(
        self,
        items: Sequence[IntakeItem],
        ids: Sequence[str],
        classified: dict[str, ClassifyResult],
        text_service: Any,
        texts: dict[str, str],
    ) -> list[IntakeResult]:
        """`process`, then keep the model's answers (one trip off the event loop). Calls made at once by
        several threads are done together as one batch (:mod:`serving.combining`)."""
        return self._combiner.run(IntakeCall(items, ids, classified, text_service, texts))

    def _take_in_together(self, calls: Sequence[IntakeCall]) -> list[list[IntakeResult]]:
        classified = {key: value for call in calls for key, value in call.classified.items()}
        results = self.process(
            [item for call in calls for item in call.items],
            [i for call in calls for i in call.ids],
            classified,
        )
        for text_service, group in _by_text_service(calls):  # a model swapped between two calls
            answered = {key: value for call in group for key, value in call.classified.items()}
            if answered:
                texts = {key: value for call in group for key, value in call.texts.items()}
                self.record_answers(text_service.classifier, text_service.model, texts, answered)
        ends = list(accumulate(len(call.items) for call in calls))
        return [results[end - len(call.items) : end] for call, end in zip(calls, ends, strict=True)]

    def record_answers(
        self, classifier: Any, model: ModelRef, texts: dict[str, str], classified: dict[str, ClassifyResult]
    ) -> None:
        """Keep what the model answered (and how novel each text was to it) for feedback and the review
        queue. `texts` are the model inputs by report id. A store that fails is logged, never fatal."""
        if self.answers is None or not classified:
            return
        ids = [item_id for item_id in classified if item_id in texts]
        try:
            novelty = unseen_ngram_share([texts[i] for i in ids], self._vocabulary.of(classifier))
        except Exception as exc:  # a model without the vocabulary we expect: keep the answers without it
            logger.warning("novelty not measured (%s)", exc)
            novelty = [float("nan")] * len(ids)
        now = datetime.now(UTC)
        rows = [
            _answer(classified[item_id], model, now, None if value != value else float(value))
            for item_id, value in zip(ids, novelty, strict=True)
        ]
        try:
            self.answers.add_answers(rows)
        except StoreUnavailableError as exc:
            logger.warning("answers not kept for feedback (%s)", exc)

    def warnings(self) -> list[str]:
        status = self.store.status()
        found = []
        if not status.available:
            found.append(f"report store: {status.detail}; intake classifies only, reports are spooled")
        if status.spooled:
            found.append(f"report store: {status.spooled} reports wait in the spool {self.store.spool_path}")
        return found


def _answer(result: ClassifyResult, model: ModelRef, now: datetime, novelty: float | None) -> Answer:
    probabilities = [alternative.probability for alternative in result.alternatives]
    top = probabilities[0] if probabilities else result.category_l3.probability
    runner_up = probabilities[1] if len(probabilities) > 1 else 0.0
    return Answer(
        report_id=result.id,
        answered_at=now,
        model_name=model.name,
        model_version=model.version or "",
        leaf_id=result.leaf_id,
        confidence=float(top),
        margin=float(top - runner_up),
        needs_review=result.needs_review,
        novelty=novelty,
    )


def _check(outcome: Outcome) -> DuplicateCheck:
    return DuplicateCheck(
        decision=outcome.decision,
        skipped=outcome.skipped,
        detail=outcome.detail,
        matches=[
            DuplicateMatch(
                id=m.id,
                score=m.score,
                decision=m.decision,
                reported_at=m.reported_at,
                grid_id=m.grid_id,
                title=m.title,
            )
            for m in outcome.matches
        ],
        searched=outcome.searched,
    )


def intake_warnings(app: Any) -> list[str]:
    """/readyz warnings about intake: the report store missing, locked or spooling (never a 503: intake
    still classifies)."""
    service: IntakeService | None = getattr(app.state, "intake", None)
    if service is not None:
        return service.warnings()
    settings: Settings = app.state.settings
    store = report_store(settings)
    try:
        return IntakeService(
            None, store, None, settings.site_timezone, settings.duplicate_window_days
        ).warnings()  # type: ignore[arg-type]
    finally:
        store.inner.close()  # type: ignore[attr-defined]

"""Event-report classification: wraps a loaded text classifier and turns its output into API results."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from core.settings import Settings, sqlite_path
from features.text import join_title_text, redact_pii
from serving.errors import PayloadTooLargeError
from serving.model_cache import ModelCache
from serving.model_prep import load_fast
from serving.schemas import (
    Alternative,
    BatchClassifyRequest,
    CategoryScore,
    ClassifyItem,
    ClassifyResult,
    EvidencePhrase,
    ModelRef,
)

logger = logging.getLogger(__name__)

TEXT_ARTIFACT = "classifier"  # models.pyfunc.TEXT_ARTIFACT (not imported: that module imports MLflow)


class TextClassifier(Protocol):
    """What the service needs from a model (models.TfidfTextClassifier provides it)."""

    def describe(
        self,
        texts: Sequence[str],
        top_k: int = 3,
        review_threshold: float | None = None,
        label_threshold: float | None = None,
    ) -> list[Any]:
        """One prediction per text: leaf_id, category_l1..l3, p_l1..p_l3, department, risk_group,
        needs_review, alternatives and labels (objects or dicts: leaf_id, category_l3, probability,
        department)."""
        ...

    def evidence(self, texts: Sequence[str], top_n: int = 3) -> list[Any]:
        """Per text, the phrases (objects with ``phrase`` and ``weight``) that drove its prediction."""
        ...


# Occlusion evidence reads a report about 13 times: whole, without each of its (up to 12) spans, and the
# spans alone (models.text_evidence; measured in docs/BENCHMARKS.md).
EVIDENCE_COST_FACTOR = 13


@dataclass(frozen=True)
class PreparedItem:
    """A report checked against the limits, with its id resolved and the model input built."""

    id: str
    text: str
    truncated: bool = False
    evidence: bool = False  # also find the phrases behind the decision (costs extra predictions)

    @property
    def cost(self) -> int:
        """The model's work for this item, in characters read (what the micro-batcher budgets)."""
        return len(self.text) * (EVIDENCE_COST_FACTOR if self.evidence else 1)


class TextClassifierService:
    """Immutable once built: a hot swap replaces the whole service, so a request keeps one version."""

    def __init__(
        self,
        classifier: TextClassifier,
        model_name: str,
        model_version: str | None,
        *,
        top_k: int = 3,
        review_threshold: float | None = 0.5,
        label_threshold: float | None = None,
        evidence_phrases: int = 3,
        max_text_chars: int = 5000,
        max_batch: int = 256,
        long_text: Literal["reject", "truncate"] = "reject",
        max_request_chars: int = 200_000,
        max_evidence_items: int = 16,
        max_evidence_text_chars: int = 1_000,
    ) -> None:
        self.classifier = classifier
        self.model = ModelRef(name=model_name, version=model_version)
        self.top_k = top_k
        self.review_threshold = review_threshold
        self.label_threshold = label_threshold
        self.evidence_phrases = evidence_phrases
        self.max_text_chars = max_text_chars
        self.max_batch = max_batch
        self.long_text = long_text
        self.max_request_chars = max_request_chars
        self.max_evidence_items = max_evidence_items
        self.max_evidence_text_chars = max_evidence_text_chars

    def classify_request(
        self, request: ClassifyItem | BatchClassifyRequest, evidence: bool = False
    ) -> list[ClassifyResult]:
        return self.predict(self.prepare(request, evidence))

    def prepare(
        self, request: ClassifyItem | BatchClassifyRequest, evidence: bool = False
    ) -> list[PreparedItem]:
        """Check the size limits and the request's cost budget (naming the offending field as the client
        sent it); cheap, no model."""
        if isinstance(request, BatchClassifyRequest):
            if len(request.items) > self.max_batch:
                raise PayloadTooLargeError(
                    f"{len(request.items)} items; at most {self.max_batch} per request", field="items"
                )
            if evidence and len(request.items) > self.max_evidence_items:
                raise PayloadTooLargeError(
                    f"evidence=true is allowed for at most {self.max_evidence_items} items per request, "
                    f"not {len(request.items)}: split the batch or ask without evidence",
                    field="evidence",
                )
            prepared = [
                self._prepare_item(item, str(position), f"items[{position}].", evidence)
                for position, item in enumerate(request.items)
            ]
        else:
            prepared = [self._prepare_item(request, "0", "", evidence)]
        self._check_budget(prepared, evidence, field="items" if len(prepared) > 1 else "text")
        return prepared

    def _check_budget(self, items: Sequence[PreparedItem], evidence: bool, field: str) -> None:
        """Bound the model's work per request: characters in all (evidence is bounded per report and in
        the number of reports, see `_prepare_item`)."""
        total = sum(len(item.text) for item in items)
        if total > self.max_request_chars:
            raise PayloadTooLargeError(
                f"{total} characters of title and text in this request; at most {self.max_request_chars}",
                field=field,
            )

    def classify(self, items: Sequence[ClassifyItem]) -> list[ClassifyResult]:
        prepared = [
            PreparedItem(item.id if item.id is not None else str(position), model_input(item))
            for position, item in enumerate(items)
        ]
        return self.predict(prepared)

    def predict(self, items: Sequence[PreparedItem]) -> list[ClassifyResult]:
        """Run the model (CPU-bound: call it off the event loop)."""
        predictions = self.classifier.describe(
            [item.text for item in items],
            top_k=self.top_k,
            review_threshold=self.review_threshold,
            label_threshold=self.label_threshold,
        )
        phrases = self._evidence(items)
        return [
            to_result(item.id, prediction, item.truncated, phrases.get(position))
            for position, (item, prediction) in enumerate(zip(items, predictions, strict=True))
        ]

    def _evidence(self, items: Sequence[PreparedItem]) -> dict[int, list[EvidencePhrase]]:
        """Item position -> its evidence phrases, for the items that asked for them."""
        wanted = [position for position, item in enumerate(items) if item.evidence]
        if not wanted:
            return {}
        found = self.classifier.evidence([items[i].text for i in wanted], top_n=self.evidence_phrases)
        # Our models cut phrases from redacted text; redacting again guards any other TextClassifier.
        return {
            position: [EvidencePhrase(phrase=redact_pii(e.phrase), weight=float(e.weight)) for e in phrases]
            for position, phrases in zip(wanted, found, strict=True)
        }

    def _prepare_item(
        self, item: ClassifyItem, default_id: str, prefix: str, evidence: bool = False
    ) -> PreparedItem:
        truncated = False
        for name in ("title", "text"):
            length = len(getattr(item, name) or "")
            if length <= self.max_text_chars:
                continue
            if self.long_text == "reject":
                raise PayloadTooLargeError(
                    f"{name} has {length} characters; at most {self.max_text_chars}", field=f"{prefix}{name}"
                )
            item = item.model_copy(update={name: getattr(item, name)[: self.max_text_chars]})
            truncated = True
        item_id = item.id if item.id is not None else default_id
        text = model_input(item)
        if evidence and len(text) > self.max_evidence_text_chars:
            # one report's occlusion (~EVIDENCE_COST_FACTOR predictions) is the smallest piece of work the
            # micro-batcher cannot slice: bounding it bounds how long it can keep other requests waiting
            raise PayloadTooLargeError(
                f"evidence=true is allowed for reports of at most {self.max_evidence_text_chars} characters "
                f"of title and text, not {len(text)}: ask without evidence",
                field=f"{prefix}text",
            )
        return PreparedItem(item_id, text, truncated, evidence)


def model_input(item: ClassifyItem) -> str:
    """Title and text joined as the training set joins them (the model normalises and redacts itself)."""
    return join_title_text(item.title, item.text)


def to_result(
    item_id: str,
    prediction: Any,
    truncated: bool = False,
    evidence: list[EvidencePhrase] | None = None,
) -> ClassifyResult:
    return ClassifyResult(
        id=item_id,
        category_l1=CategoryScore(name=prediction.category_l1, probability=float(prediction.p_l1)),
        category_l2=CategoryScore(name=prediction.category_l2, probability=float(prediction.p_l2)),
        category_l3=CategoryScore(name=prediction.category_l3, probability=float(prediction.p_l3)),
        leaf_id=prediction.leaf_id,
        department=prediction.department,
        risk_group=prediction.risk_group,
        needs_review=bool(prediction.needs_review),
        alternatives=[to_alternative(alternative) for alternative in prediction.alternatives],
        labels=[to_alternative(label) for label in getattr(prediction, "labels", ())],
        evidence=evidence,
        truncated=truncated,
    )


def to_alternative(alternative: Any) -> Alternative:
    fields = ("leaf_id", "category_l3", "probability", "department")
    if isinstance(alternative, Mapping):
        values = {name: alternative[name] for name in fields}
    else:
        values = {name: getattr(alternative, name) for name in fields}
    return Alternative(**{**values, "probability": float(values["probability"])})


# ---- loading from the MLflow registry ----------------------------------------------------------------
@dataclass(frozen=True)
class ModelUri:
    """`models:/<name>@<alias>` or `models:/<name>/<version>`; other URIs keep only `uri`."""

    uri: str
    name: str | None = None
    alias: str | None = None
    version: str | None = None

    @classmethod
    def parse(cls, uri: str) -> ModelUri:
        if not uri.startswith("models:/"):
            return cls(uri)
        path = uri.removeprefix("models:/").strip("/")
        if "@" in path:
            name, alias = path.split("@", 1)
            return cls(uri, name=name, alias=alias)
        name, _, version = path.partition("/")
        return cls(uri, name=name, version=version or None)


class MlflowTextModelSource:
    """Versions of the text model in the MLflow registry, loaded through the local model cache."""

    kind: Literal["registry"] = "registry"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.uri = ModelUri.parse(settings.text_model_uri)
        self.cache = ModelCache(settings.model_cache_dir, self.uri.name or "text-model")
        self._mlflow_client: Any = None

    def current_version(self) -> str:
        if self.uri.name is None:  # runs:/..., a path: one fixed model
            return self.uri.uri
        if self.uri.version is not None:
            return self.uri.version
        return str(self._client().get_model_version_by_alias(self.uri.name, self.uri.alias).version)

    def load(self, version: str) -> TextClassifierService:
        """Download the version into the cache (if not there yet) and load it from there."""
        import mlflow

        artifact_uri = self.uri.uri if self.uri.name is None else f"models:/{self.uri.name}/{version}"

        def download(destination: Path) -> str:
            self._client()  # sets the tracking and registry URIs
            return mlflow.artifacts.download_artifacts(artifact_uri=artifact_uri, dst_path=str(destination))

        path = self.cache.fetch(version, download)
        logger.info("loading text model %s version %s from %s", self.uri.name, version, path)
        return build_text_service(path, self.uri.name or self.uri.uri, version, self.settings)

    def load_last_good(self) -> tuple[str, TextClassifierService] | None:
        cached = self.cache.last_good()
        if cached is None:
            return None
        version, path = cached
        return version, build_text_service(path, self.uri.name or self.uri.uri, version, self.settings)

    def keep_as_last_good(self, version: str) -> None:
        self.cache.mark_good(version)

    def _client(self) -> Any:
        """One client per source: building one opens the store and checks its schema (~0.8 s, keeping
        other threads waiting up to ~130 ms), which would slow the requests around every poll."""
        database = sqlite_path(self.settings.mlflow_tracking_uri)
        if database is not None and not database.exists():
            raise FileNotFoundError(f"MLflow database {database} does not exist; train a model first")
        if self._mlflow_client is None:
            import mlflow
            from mlflow import MlflowClient

            mlflow.set_tracking_uri(self.settings.mlflow_tracking_uri)
            mlflow.set_registry_uri(self.settings.mlflow_tracking_uri)
            uri = self.settings.mlflow_tracking_uri
            self._mlflow_client = MlflowClient(uri, uri)
        return self._mlflow_client


def build_text_service(
    model_dir: Path, model_name: str, version: str, settings: Settings
) -> TextClassifierService:
    """Load an MLflow pyfunc model directory: its uncompressed, memory-mapped copy when it can be made
    (`serving.model_prep`), else through MLflow (slow: imports MLflow, decompresses, unpickles)."""
    classifier = None
    if settings.fast_model_load:
        try:
            classifier = load_fast(model_dir, TEXT_ARTIFACT)
        except Exception as exc:
            logger.warning("fast load of %s failed (%s); loading through MLflow", model_dir, exc)
    if classifier is None:
        import mlflow

        classifier = mlflow.pyfunc.load_model(str(model_dir)).unwrap_python_model().classifier
    return TextClassifierService(
        classifier,
        model_name=model_name,
        model_version=version,
        top_k=settings.top_k,
        review_threshold=settings.review_threshold,
        label_threshold=settings.label_threshold,
        evidence_phrases=settings.evidence_phrases,
        max_text_chars=settings.max_text_chars,
        max_batch=settings.max_batch,
        long_text=settings.long_text,
        max_request_chars=settings.max_request_chars,
        max_evidence_items=settings.max_evidence_items,
        max_evidence_text_chars=settings.max_evidence_text_chars,
    )


def smoke_test(service: TextClassifierService, text: str) -> None:
    """One prediction on a known report; raises when the model cannot classify."""
    [result] = service.classify([ClassifyItem(text=text)])
    if not result.leaf_id or not 0.0 <= result.category_l3.probability <= 1.0:
        raise ValueError(f"smoke prediction is not usable: {result.leaf_id!r}")

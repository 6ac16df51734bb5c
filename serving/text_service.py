"""Event-report classification: wraps a loaded text classifier and turns its output into API results."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from serving.errors import PayloadTooLargeError
from serving.schemas import (
    Alternative,
    BatchClassifyRequest,
    CategoryScore,
    ClassifyItem,
    ClassifyResult,
    ModelRef,
    request_items,
)
from serving.settings import Settings, sqlite_path

logger = logging.getLogger(__name__)


class TextClassifier(Protocol):
    """What the service needs from a model (models.TfidfTextClassifier provides it)."""

    def describe(
        self, texts: Sequence[str], top_k: int = 3, review_threshold: float | None = None
    ) -> list[Any]:
        """One prediction per text: leaf_id, category_l1..l3, p_l1..p_l3, department, risk_group,
        needs_review, alternatives (objects or dicts: leaf_id, category_l3, probability, department)."""
        ...


class TextClassifierService:
    def __init__(
        self,
        classifier: TextClassifier,
        model_name: str,
        model_version: str | None,
        *,
        top_k: int = 3,
        review_threshold: float | None = 0.5,
        max_text_chars: int = 5000,
        max_batch: int = 256,
    ) -> None:
        self.classifier = classifier
        self.model = ModelRef(name=model_name, version=model_version)
        self.top_k = top_k
        self.review_threshold = review_threshold
        self.max_text_chars = max_text_chars
        self.max_batch = max_batch

    def classify_request(self, request: ClassifyItem | BatchClassifyRequest) -> list[ClassifyResult]:
        """Check the size limits (naming the offending field as the client sent it), then classify."""
        if isinstance(request, BatchClassifyRequest):
            if len(request.items) > self.max_batch:
                raise PayloadTooLargeError(
                    f"{len(request.items)} items; at most {self.max_batch} per request", field="items"
                )
            for position, item in enumerate(request.items):
                self._check_length(item, prefix=f"items[{position}].")
        else:
            self._check_length(request, prefix="")
        return self.classify(request_items(request))

    def classify(self, items: Sequence[ClassifyItem]) -> list[ClassifyResult]:
        texts = [model_input(item) for item in items]
        predictions = self.classifier.describe(
            texts, top_k=self.top_k, review_threshold=self.review_threshold
        )
        ids = [item.id if item.id is not None else str(position) for position, item in enumerate(items)]
        return [to_result(item_id, prediction) for item_id, prediction in zip(ids, predictions, strict=True)]

    def _check_length(self, item: ClassifyItem, prefix: str) -> None:
        for name in ("title", "text"):
            length = len(getattr(item, name) or "")
            if length > self.max_text_chars:
                raise PayloadTooLargeError(
                    f"{name} has {length} characters; at most {self.max_text_chars}", field=f"{prefix}{name}"
                )


def model_input(item: ClassifyItem) -> str:
    return f"{item.title}\n{item.text}" if item.title and item.title.strip() else item.text


def to_result(item_id: str, prediction: Any) -> ClassifyResult:
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


def load_text_service(settings: Settings) -> TextClassifierService:
    """Load the text model named by `settings.text_model_uri` (slow: imports MLflow, reads artifacts)."""
    database = sqlite_path(settings.mlflow_tracking_uri)
    if database is not None and not database.exists():
        raise FileNotFoundError(f"MLflow database {database} does not exist; train a model first")
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    mlflow.set_registry_uri(settings.mlflow_tracking_uri)
    model_uri = ModelUri.parse(settings.text_model_uri)
    version = model_uri.version
    load_uri = model_uri.uri
    if model_uri.alias is not None:  # pin the version so the alias cannot move between look-up and load
        version = MlflowClient().get_model_version_by_alias(model_uri.name, model_uri.alias).version
        load_uri = f"models:/{model_uri.name}/{version}"
    loaded = mlflow.pyfunc.load_model(load_uri)
    classifier = loaded.unwrap_python_model().classifier
    logger.info("loaded text model %s (%s)", settings.text_model_uri, load_uri)
    return TextClassifierService(
        classifier,
        model_name=model_uri.name or settings.text_model_uri,
        model_version=str(version) if version is not None else None,
        top_k=settings.top_k,
        review_threshold=settings.review_threshold,
        max_text_chars=settings.max_text_chars,
        max_batch=settings.max_batch,
    )

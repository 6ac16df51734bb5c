"""GridSense configuration for every entry point (CLI, batch jobs, API): one typed object, read from
GRIDSENSE_* environment variables. The one table of them: docs/SETTINGS.md."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.registry import CHAMPION, RISK_MODEL_NAME, TEXT_MODEL_NAME, model_uri

DEFAULT_SITE_TIMEZONE = "Asia/Shanghai"  # China Standard Time: UTC+8 all year


def _known_time_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r} (an IANA name such as Asia/Shanghai)") from exc
    return name


class Settings(BaseSettings):
    """Relative paths (forecasts table, SQLite tracking database, key store, caches, audit log) are
    resolved against `home`."""

    model_config = SettingsConfigDict(env_prefix="GRIDSENSE_", extra="ignore")

    home: Path = Field(
        default=Path("."),
        description="The GridSense home: data, MLflow store, keys; relative paths start here.",
    )
    mlflow_tracking_uri: str = "sqlite:///mlruns/mlflow.db"
    text_model_uri: str = model_uri(TEXT_MODEL_NAME)
    serve_text: bool = Field(
        default=True,
        description="Serve the text model. False for a site without report texts (risk only): /readyz does "
        "not wait for one and /v1/classify answers 503 saying so. `gridsense serve` sets it to false when "
        "the site has no registered text model.",
    )
    serve_risk: bool = Field(
        default=True,
        description="Serve the risk forecasts. False for a text-only site: /readyz does not wait for a "
        "forecasts table and the risk routes answer 503 saying so. `gridsense serve` sets it to false when "
        "the site has no registered risk model.",
    )
    risk_model_name: str = RISK_MODEL_NAME
    risk_model_alias: str = CHAMPION
    forecasts_path: Path = Path("datasets/demo/forecasts/latest.parquet")
    dashboard_tables_dir: Path = Field(
        default=Path("datasets/demo/serving"),
        description="Grids, weekly activity and recent reports for the dashboard (`gridsense forecast`).",
    )
    site: str = Field(
        default="demo",
        description="The site every command works for: `demo` (no file), or a site file "
        "<home>/sites/<name>.yaml (`gridsense site init`) that sets its data, taxonomy, calendar, language, "
        "time zone and model names (docs/OPERATIONS.md, Sites).",
    )
    language: Literal["zh", "en"] = Field(
        default="zh", description="Language of risk drivers and dashboard labels: zh or en."
    )
    site_timezone: Annotated[str, AfterValidator(_known_time_zone)] = Field(
        default=DEFAULT_SITE_TIMEZONE,
        description="The IANA time zone of the event times, which the data hold as naive local times; "
        "the API writes them with its UTC offset (2026-01-05T09:00:00+08:00).",
    )

    # event files (gridsense validate-events / build-features; their options override these)
    events_encoding: str = Field(
        default="auto",
        description="CSV encoding of event logs: auto (BOM, UTF-8, else detected; GBK read as GB18030) "
        "or a codec name.",
    )
    events_not_before: date | None = Field(
        default=None, description="Reject events dated before this day (None: 2000-01-01)."
    )
    events_not_after: datetime | None = Field(
        default=None, description="Reject events dated after this time (None: the load time plus one day)."
    )
    calendar_country: str = Field(
        default="CN",
        description="Holiday calendar of the panel: CN (Spring Festival weeks too), another ISO country code "
        "of the `holidays` package, or none.",
    )
    max_panel_weeks: int | None = Field(
        default=None,
        ge=1,
        description="Refuse a grid x week panel spanning more weeks than this (None: 1,560, 30 years).",
    )
    engine: Literal["polars", "spark"] = Field(
        default="polars",
        description="Engine of the batch jobs: polars (one machine) or spark (a cluster; the [spark] extra, "
        "docs/SPARK.md).",
    )

    # classification
    review_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    label_threshold: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Multi-label: every leaf at or above it is returned in `labels`; None: the model's own.",
    )
    top_k: int = Field(default=3, ge=1)
    evidence_phrases: int = Field(
        default=3, ge=1, le=10, description="Phrases returned with `evidence=true`."
    )
    inference: Literal["threadpool", "microbatch", "inline"] = Field(
        default="microbatch",
        description="How CPU-bound inference leaves the event loop: micro-batches run in a thread (the "
        "fastest, docs/BENCHMARKS.md), a thread per request, or inline (blocks the loop; for measuring).",
    )
    microbatch_max_items: int = Field(default=64, ge=1)
    microbatch_wait_ms: float = Field(default=2.0, ge=0.0)
    microbatch_max_chars: int = Field(
        default=10_000,
        ge=1,
        description="Characters per model call (an item with evidence counts 13 times; one item at least): "
        "a bigger request is served in slices, between which other requests get their turn.",
    )

    # intake: the recent-report store and duplicate detection (core/report_store.py, models/duplicates.py)
    report_store_path: Path = Field(
        default=Path(".gridsense/reports.sqlite"),
        description="The recent-report store (SQLite, WAL) intake writes to and duplicate search reads.",
    )
    report_retention_days: float = Field(
        default=30.0, gt=0.0, description="Reports older than this many days leave the store."
    )
    duplicate_window_days: float = Field(
        default=7.0, gt=0.0, description="Intake looks for duplicates among the reports of this many days."
    )
    duplicate_context_params: Path | None = Field(
        default=None,
        description="Duplicate params with leaf/grid/time features (`gridsense train duplicates-context`) "
        "intake uses for pairs whose leaves and grids are known; None: text and places only.",
    )

    # the loop: corrections into the next text model (core/feedback_store.py, features/corrections.py)
    feedback_weight: float = Field(
        default=3.0,
        gt=0.0,
        description="How much a person's correction counts in `retrain text` against one historical report "
        "(each correction is repeated this many times, rounded).",
    )
    feedback_holdout_share: float = Field(
        default=0.2,
        ge=0.0,
        lt=1.0,
        description="Share of the newest corrections `retrain text` holds out for the promotion gate.",
    )

    # input limits
    max_text_chars: int = Field(default=5000, ge=1)
    long_text: Literal["reject", "truncate"] = Field(
        default="reject", description="Text over max_text_chars: 413, or cut to the limit and flagged."
    )
    max_batch: int = Field(default=256, ge=1)
    max_body_bytes: int = Field(default=8_000_000, ge=1024)
    max_request_chars: int = Field(
        default=200_000, ge=1, description="Characters of titles and texts per classify request (413 above)."
    )
    max_evidence_items: int = Field(
        default=16, ge=1, description="Reports per classify request with `evidence=true` (413 above)."
    )
    max_evidence_text_chars: int = Field(
        default=1_000,
        ge=1,
        description="Characters of title and text per report with `evidence=true` (413 above): one report's "
        "evidence is work that cannot be sliced, so this bounds how long it holds up other requests.",
    )

    # per-key rate limits (`limits` notation, e.g. "20/second;600/minute"; empty: no limit)
    rate_limit_intake: str = "20/second;600/minute"
    rate_limit_supervisor: str = "50/second;3000/minute"  # the dashboard calls in bursts
    rate_limit_data_scientist: str = "50/second;3000/minute"
    rate_limit_storage_uri: str = Field(
        default="memory://",
        description="Where the counters live: in-memory counts per worker process (a client may get up to "
        "workers x the limit); `redis://host:6379` shares exact counts between workers and servers.",
    )

    # model hot swap
    reload_interval_seconds: float = Field(
        default=30.0, ge=0.0, description="How often the registry alias is polled; 0 turns polling off."
    )
    model_cache_dir: Path = Field(
        default=Path(".cache/gridsense/models"),
        description="Last good model per name, used when the registry is unreachable at start-up.",
    )
    validation_tolerance: float = Field(
        default=0.03,
        ge=0.0,
        le=1.0,
        description="Before a text model is served, promoted or rolled back to, its accuracy and macro-F1 "
        "on the validation sample stored with it may fall at most this far below what it scored on that "
        "sample when trained (serving/model_check.py).",
    )
    unsampled_models: Literal["refuse", "probe"] = Field(
        default="refuse",
        description="Text versions registered without a validation sample: refuse them, or accept them "
        "when they answer a few built-in probe reports with several different leaves.",
    )
    fast_model_load: bool = Field(
        default=False,
        description="Load the text model from an uncompressed, memory-mapped copy made by a low-priority "
        "process (serving/model_prep.py): workers share its memory, but on a busy machine the copy takes "
        "longer to make than an in-worker load (docs/BENCHMARKS.md). Off: MLflow loads it in the worker.",
    )

    # slow clients (0 turns a timeout off)
    header_timeout_seconds: float = Field(
        default=10.0,
        ge=0.0,
        description="The request line and headers must arrive within this many seconds of the connection "
        "or of the previous response (408, or a silent close if nothing was sent).",
    )
    max_header_bytes: int = Field(
        default=65_536, ge=1024, description="Request line and headers together (431 above)."
    )
    body_timeout_seconds: float = Field(
        default=20.0,
        ge=0.0,
        description="The whole request body must arrive within this many seconds of its headers (408).",
    )

    # drift monitoring (gridsense monitor, the API's drift gauges; monitoring/signals.py)
    drift_window_reports: int = Field(
        default=1000,
        ge=50,
        description="Reports per drift window: `gridsense monitor` compares each window of this many with "
        "the reference; the API's drift gauges cover the latest this many.",
    )
    drift_window_step: int = Field(
        default=250,
        ge=1,
        description="`gridsense monitor` judges a window every this many reports (the latest "
        "GRIDSENSE_DRIFT_WINDOW_REPORTS each time; at most that many): a drift is flagged at most this many "
        "reports after it fills enough of a window.",
    )
    drift_category_psi: float = Field(
        default=0.2, ge=0.0, description="Alarm when the PSI of the predicted L1 category mix is above this."
    )
    drift_confidence_psi: float = Field(
        default=0.2,
        ge=0.0,
        description="Alarm when the PSI of the leaf probability (the reference's decile bins) is above this.",
    )
    drift_needs_review_increase: float = Field(
        default=0.10,
        ge=0.0,
        description="Alarm when the share of reports flagged for review exceeds the reference's by more.",
    )
    drift_unseen_ngram_increase: float = Field(
        default=0.03,
        ge=0.0,
        description="Alarm when the mean share of a report's character 2-/3-grams outside the model's "
        "training vocabulary exceeds the reference's by more.",
    )
    drift_novel_report_increase: float = Field(
        default=0.05,
        ge=0.0,
        le=1.0,
        description="Alarm when the share of novel reports (unseen 2-/3-gram share above the reference's "
        "95th percentile) exceeds the reference's (about 5%) by more.",
    )
    drift_length_psi: float = Field(
        default=0.2, ge=0.0, description="Alarm when the PSI of the text length (decile bins) is above this."
    )
    drift_correction_rate: float = Field(
        default=0.2,
        ge=0.0,
        le=1.0,
        description="Alarm when, in a category with at least 20 reviewed reports, more than this share "
        "were corrected by a person (needs feedback: the `corrected_leaf_id` column).",
    )
    drift_reference_path: Path = Field(
        default=Path(".gridsense/drift_reference.json"),
        description="The reference the API's drift gauges compare with, written by `gridsense monitor`.",
    )
    drift_log_path: Path = Field(
        default=Path(".gridsense/drift.jsonl"),
        description="The API appends one JSON line per classified report (category, confidence, "
        "needs_review, length, unseen n-gram share; no text) for `gridsense monitor --drift-log`; rotated "
        "to `.1` at 50 MB. An empty value turns it off.",
    )

    # security and operations
    api_keys_path: Path = Path(".gridsense/api_keys.json")
    keys_refresh_seconds: float = Field(
        default=1.0, ge=0.0, description="How often the key file is checked for changes (revocations)."
    )
    audit_log_path: Path = Path(".gridsense/audit.jsonl")
    cors_origins: list[str] = Field(
        default_factory=list, description="CORS is off unless origins are listed."
    )
    log_format: Literal["json", "text"] = "json"
    log_level: str = "INFO"

    @model_validator(mode="after")
    def _resolve_relative_paths(self) -> Settings:
        self.home = self.home.expanduser().resolve()
        self._apply_site()
        for name in (
            "forecasts_path",
            "dashboard_tables_dir",
            "model_cache_dir",
            "api_keys_path",
            "audit_log_path",
            "report_store_path",
        ):
            setattr(self, name, self.home / getattr(self, name))  # an absolute path stays as it is
        if self.duplicate_context_params is not None:
            self.duplicate_context_params = self.home / self.duplicate_context_params
        self.mlflow_tracking_uri = resolve_tracking_uri(self.mlflow_tracking_uri, self.home)
        return self

    def _apply_site(self) -> None:
        """The site's tables, calendar, language, time zone and model names (core.sites), where no
        variable or argument sets them; the demo site changes nothing."""
        from core.sites import site_settings  # imports core.home, which imports this module

        explicit = set(self.model_fields_set)
        for name, value in site_settings(self.home, self.site).items():
            if name not in explicit:
                setattr(self, name, value)


def resolve_tracking_uri(uri: str, home: Path) -> str:
    """Make a relative SQLite or plain-path store absolute; other URIs (http, file:///...) pass through."""
    parts = urlsplit(uri)
    if parts.scheme == "sqlite" and uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        return f"sqlite:///{home / uri.removeprefix('sqlite:///')}"
    if parts.scheme == "" and not Path(uri).is_absolute():
        return str(home / uri)
    return uri


def tracking_uri(home: Path) -> str:
    """The MLflow tracking + registry URI for a GridSense home: `GRIDSENSE_MLFLOW_TRACKING_URI`, else the
    SQLite store under <home>/mlruns. Training, the batch jobs and the API all take it from here."""
    return Settings(home=home).mlflow_tracking_uri


def sqlite_path(uri: str) -> Path | None:
    """The database file of a `sqlite:///` URI, else None."""
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri.removeprefix("sqlite:///"))

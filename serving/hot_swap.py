"""Components that change under a running server: load the new version beside the old one, smoke-test
it, then swap one reference.

A request takes `HotSwap.active` once and uses that object to the end, so requests in flight finish on
the version they started with. A version that fails to load or fails its smoke test never replaces the
served one; the failure is kept for /readyz and retried at the next refresh. When nothing is served yet
and the source is unreachable, the last good local copy (if the source keeps one) is served instead.

`check` is the latest check of the served version: its smoke test when it was swapped in, then the
`recheck` run at every refresh that keeps it (when one is given). A served version whose re-check fails
makes /readyz not ready until a later re-check passes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Generic, Literal, Protocol, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")
Outcome = Literal["unchanged", "swapped", "failed"]


class Source(Protocol[T]):
    """Where the versions of a component come from."""

    kind: Literal["registry", "file"]

    def current_version(self) -> str:
        """The version that should be served now (e.g. the version an alias points at)."""
        ...

    def load(self, version: str) -> T: ...

    def load_last_good(self) -> tuple[str, T] | None:
        """The last version that passed its smoke test, from a local copy; None if there is none."""
        ...

    def keep_as_last_good(self, version: str) -> None: ...


@dataclass(frozen=True)
class Active(Generic[T]):
    value: T
    version: str
    source: Literal["registry", "cache", "file"]
    loaded_at: datetime


@dataclass(frozen=True)
class CheckResult:
    """The latest check of the served version."""

    version: str
    passed: bool
    detail: str
    at: datetime = field(default_factory=lambda: _now())


@dataclass(frozen=True)
class ReloadEvent:
    component: str
    trigger: str  # "start-up", "poll", "admin", ...
    outcome: Outcome
    version: str | None  # served after the event
    previous_version: str | None
    attempted_version: str | None = None
    error: str | None = None
    source: str | None = None  # where the served version came from: registry, cache or file


class HotSwap(Generic[T]):
    def __init__(
        self,
        component: str,
        source: Source[T],
        smoke_test: Callable[[T], object] = lambda value: None,
        listeners: list[Callable[[ReloadEvent], None]] | None = None,
        recheck: Callable[[T], object] | None = None,
    ) -> None:
        """`smoke_test(candidate)` raises to refuse a version (what it returns, if a string, is kept as
        the check's detail); `recheck(served)` runs at each refresh that keeps the served version."""
        self.component = component
        self.source = source
        self.smoke_test = smoke_test
        self.recheck = recheck
        self.listeners = list(listeners or [])
        self._active: Active[T] | None = None
        self._lock = threading.Lock()
        self.last_check: datetime | None = None
        self.last_error: str | None = None
        self.failed_version: str | None = None
        self.check: CheckResult | None = None

    @classmethod
    def fixed(cls, component: str, value: T | None, version: str = "fixed") -> HotSwap[T]:
        """A component that never changes (tests, or a value given directly)."""
        swap: HotSwap[T] = cls(component, _FixedSource(version, value))
        if value is not None:
            swap._active = Active(value, version, "file", _now())
        else:
            swap.last_error = "not loaded (start-up has not run)"
        return swap

    @property
    def active(self) -> Active[T] | None:
        return self._active

    @property
    def value(self) -> T | None:
        active = self._active
        return active.value if active else None

    def refresh(self, trigger: str) -> ReloadEvent:
        """Serve the source's current version if it is new and passes the smoke test. Never raises."""
        with self._lock:
            event = self._refresh(trigger)
        for listener in self.listeners:
            try:
                listener(event)
            except Exception:  # an observer must not break a reload
                logger.exception("reload listener failed for %s", self.component)
        return event

    def _refresh(self, trigger: str) -> ReloadEvent:
        self.last_check = _now()
        previous = self._active
        previous_version = previous.version if previous else None
        try:
            version = self.source.current_version()
        except Exception as exc:
            self.last_error = f"{self.source.kind} unavailable: {describe(exc)}"
            if previous is None:
                return self._fall_back_to_last_good(trigger, self.last_error)
            return self._event(trigger, "failed", previous_version, error=self.last_error)
        if previous is not None and previous.version == version:
            if previous.source == "cache":  # the cached copy is that version: it now comes from the registry
                self._active = Active(previous.value, version, self.source.kind, previous.loaded_at)
            self.last_error = self.failed_version = None
            self._recheck(previous)
            return self._event(trigger, "unchanged", previous_version)
        try:
            candidate = self.source.load(version)
            detail = self.smoke_test(candidate)
        except Exception as exc:
            self.failed_version = version
            self.last_error = f"version {version} rejected: {describe(exc)}"
            logger.warning("%s: %s; still serving %s", self.component, self.last_error, previous_version)
            if previous is None:
                return self._fall_back_to_last_good(trigger, self.last_error, attempted=version)
            return self._event(trigger, "failed", previous_version, attempted=version, error=self.last_error)
        self._active = Active(candidate, version, self.source.kind, _now())
        self.check = CheckResult(version, True, _detail(detail))
        self.last_error = self.failed_version = None
        self._keep(version)
        return self._event(trigger, "swapped", previous_version, attempted=version, version=version)

    def _recheck(self, served: Active[T]) -> None:
        if self.recheck is None:
            return
        try:
            self.check = CheckResult(served.version, True, _detail(self.recheck(served.value)))
        except Exception as exc:
            self.check = CheckResult(served.version, False, f"the served version fails: {describe(exc)}")
            logger.error("%s: %s", self.component, self.check.detail)

    def _fall_back_to_last_good(self, trigger: str, error: str, attempted: str | None = None) -> ReloadEvent:
        detail = None
        try:
            cached = self.source.load_last_good()
            if cached is not None:
                detail = self.smoke_test(cached[1])
        except Exception as exc:
            logger.warning("%s: the local copy is unusable too: %s", self.component, describe(exc))
            cached = None
        if cached is None:
            return self._event(trigger, "failed", None, attempted=attempted, error=error)
        version, value = cached
        self._active = Active(value, version, "cache", _now())
        self.check = CheckResult(version, True, _detail(detail))
        logger.warning("%s: serving the cached version %s (%s)", self.component, version, error)
        return self._event(trigger, "swapped", None, attempted=attempted, version=version, error=error)

    def _keep(self, version: str) -> None:
        try:
            self.source.keep_as_last_good(version)
        except Exception:
            logger.exception("%s: could not keep version %s as the last good copy", self.component, version)

    def _event(
        self,
        trigger: str,
        outcome: Outcome,
        previous_version: str | None,
        attempted: str | None = None,
        error: str | None = None,
        version: str | None = None,
    ) -> ReloadEvent:
        served = version if version is not None else previous_version
        source = self._active.source if self._active is not None else None
        return ReloadEvent(
            self.component, trigger, outcome, served, previous_version, attempted, error, source
        )


class _FixedSource:
    kind: Literal["file"] = "file"

    def __init__(self, version: str, value) -> None:
        self.version = version
        self.value = value

    def current_version(self) -> str:
        if self.value is None:
            raise RuntimeError("not loaded (start-up has not run)")
        return self.version

    def load(self, version: str):
        return self.value

    def load_last_good(self):
        return None

    def keep_as_last_good(self, version: str) -> None:
        return None


def _detail(value: object) -> str:
    return value if isinstance(value, str) else "passed"


def describe(exc: BaseException) -> str:
    message = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _now() -> datetime:
    return datetime.now(UTC)

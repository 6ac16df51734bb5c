"""Running CPU-bound classification without blocking the event loop.

- `threadpool`: each request runs the model in a worker thread (anyio's pool).
- `microbatch`: requests queue up; one task takes everything waiting (up to `max_items` reports and
  `max_cost` characters, waiting at most `wait_ms` for more) and runs the model once per batch in a
  thread. Vectorising many short reports at once costs much less than one call per report. Requests
  that fit in one batch and bigger ones go to two such queues (`TwoLaneBatcher`), so a report never
  waits behind a big batch.
- `inline`: runs on the event loop (blocks it); kept only to measure the other two against.

A batch never mixes model versions: items are grouped by the service object they started with. A model
failure is answered as `InferenceError` (a 500 in the error envelope, handled like any API error, so
the server keeps the connection open) and never fails another request.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from starlette.concurrency import run_in_threadpool

from serving.errors import ApiError
from serving.schemas import ClassifyResult
from serving.text_service import PreparedItem, TextClassifierService

logger = logging.getLogger(__name__)


class InferenceError(ApiError):
    status_code = 500
    code = "inference_failed"

    @classmethod
    def caused_by(cls, exc: Exception) -> InferenceError:
        error = cls("the model could not classify this request; quote the request_id when reporting it")
        error.__cause__ = exc
        return error


class InferenceRunner(Protocol):
    async def predict(
        self, service: TextClassifierService, items: Sequence[PreparedItem]
    ) -> list[ClassifyResult]: ...

    async def aclose(self) -> None: ...


class ThreadPoolRunner:
    async def predict(
        self, service: TextClassifierService, items: Sequence[PreparedItem]
    ) -> list[ClassifyResult]:
        try:
            return await run_in_threadpool(service.predict, items)
        except Exception as exc:
            logger.error("inference failed for a request of %d item(s)", len(items), exc_info=exc)
            raise InferenceError.caused_by(exc) from exc

    async def aclose(self) -> None:
        return None


class InlineRunner:
    async def predict(
        self, service: TextClassifierService, items: Sequence[PreparedItem]
    ) -> list[ClassifyResult]:
        return service.predict(items)

    async def aclose(self) -> None:
        return None


@dataclass(eq=False)
class _Job:
    """One request's items; handed to the model in slices, answers collected in order."""

    service: TextClassifierService
    items: Sequence[PreparedItem]
    future: asyncio.Future[list[ClassifyResult]] = field(repr=False)
    handed_out: int = 0
    results: list[ClassifyResult] = field(default_factory=list)
    cost: int = 0

    def __post_init__(self) -> None:
        self.cost = sum(item.cost for item in self.items)

    @property
    def finished(self) -> bool:
        return self.future.done()  # answered, failed, or the client went away

    @property
    def remaining(self) -> int:
        return len(self.items) - self.handed_out


@dataclass(frozen=True)
class _Slice:
    job: _Job
    start: int
    end: int

    @property
    def items(self) -> Sequence[PreparedItem]:
        return self.job.items[self.start : self.end]


class MicroBatcher:
    """One task runs the model for everyone, one bounded batch at a time.

    A batch holds at most `max_items` items and `max_cost` cost units (characters, times the evidence
    factor: `PreparedItem.cost`). A request bigger than that is served in slices, each in a call of its
    own; the requests that arrive meanwhile are classified together before the next slice, so a small
    request waits for at most the slice in progress, not for all of a big request. A failing batch is
    split and re-run until the failure is pinned on one request: only that request fails (with
    `InferenceError`), the others get their answers.
    """

    def __init__(self, max_items: int = 64, wait_ms: float = 2.0, max_cost: int = 1_000_000) -> None:
        self.max_items = max_items
        self.max_cost = max_cost
        self.wait_seconds = wait_ms / 1000
        self._queue: asyncio.Queue[_Job] | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def predict(
        self, service: TextClassifierService, items: Sequence[PreparedItem]
    ) -> list[ClassifyResult]:
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done() or self._loop is not loop:  # lazily, in the server's loop
            self._loop = loop
            self._queue = asyncio.Queue()
            self._task = asyncio.create_task(self._run(), name="gridsense-microbatcher")
        future: asyncio.Future[list[ClassifyResult]] = loop.create_future()
        assert self._queue is not None
        if not items:
            return []
        self._queue.put_nowait(_Job(service, items, future))
        return await future

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        assert self._queue is not None
        waiting: deque[_Job] = deque()
        while True:
            if not waiting:
                waiting.append(await self._queue.get())
                await self._wait_for_more(waiting)
            batch, unfinished = self._take_batch(waiting)
            if batch:
                await self._run_batch(batch)
            self._drain(waiting)  # newcomers go before the rest of a big request
            if unfinished is not None:
                waiting.append(unfinished)

    async def _wait_for_more(self, waiting: deque[_Job]) -> None:
        """Up to `wait_ms` for more requests, unless the batch is full already."""
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait_seconds
        while sum(job.remaining for job in waiting) < self.max_items:
            self._drain(waiting)
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                waiting.append(await asyncio.wait_for(self._queue.get(), remaining))
            except TimeoutError:
                break

    def _drain(self, waiting: deque[_Job]) -> None:
        assert self._queue is not None
        while not self._queue.empty():
            waiting.append(self._queue.get_nowait())

    def _take_batch(self, waiting: deque[_Job]) -> tuple[list[_Slice], _Job | None]:
        """Slices of the waiting jobs (one model version, in arrival order) up to the batch limits; the
        job cut short, if any, is returned to be put back behind the newcomers."""
        batch: list[_Slice] = []
        items = cost = 0
        service = None
        while waiting and items < self.max_items and cost < self.max_cost:
            job = waiting[0]
            if job.finished:
                waiting.popleft()
                continue
            if service is not None and job.service is not service:
                break  # a batch never mixes model versions
            if batch and job.handed_out:
                break  # the rest of a big request runs in a call of its own, after the newcomers'
            if batch and self._fits_alone(job) and not self._fits_in(job, items, cost):
                break  # the next call takes it whole: only requests too big for one call are cut
            service = job.service
            end = job.handed_out
            while end < len(job.items) and items < self.max_items:
                item_cost = job.items[end].cost
                if cost + item_cost > self.max_cost and items > 0:
                    break
                items, cost, end = items + 1, cost + item_cost, end + 1
            if end > job.handed_out:
                batch.append(_Slice(job, job.handed_out, end))
                job.handed_out = end
            waiting.popleft()
            if job.remaining:
                return batch, job
        return batch, None

    def _fits_alone(self, job: _Job) -> bool:
        return self._fits_in(job, 0, 0)

    def _fits_in(self, job: _Job, items: int, cost: int) -> bool:
        return items + len(job.items) <= self.max_items and cost + job.cost <= self.max_cost

    async def _run_batch(self, batch: list[_Slice]) -> None:
        service = batch[0].job.service
        items = [item for piece in batch for item in piece.items]
        try:
            results = await run_in_threadpool(service.predict, items)
        except Exception as exc:
            if len({id(piece.job) for piece in batch}) == 1:
                _fail(batch[0].job, exc)
                return
            middle = len(batch) // 2  # pin the failure on a request: halve and re-run
            await self._run_batch(batch[:middle])
            await self._run_batch(batch[middle:])
            return
        start = 0
        for piece in batch:
            end = start + len(piece.items)
            _deliver(piece.job, results[start:end])
            start = end


class TwoLaneBatcher:
    """Small requests (at most one batch's cost) and bigger ones in two micro-batchers, each running the
    model in its own thread: a small request never waits for a slice of a big one, it only shares the
    CPU (and the GIL) with it."""

    def __init__(self, max_items: int = 64, wait_ms: float = 2.0, max_cost: int = 1_000_000) -> None:
        self.max_cost = max_cost
        self.small = MicroBatcher(max_items, wait_ms, max_cost)
        self.big = MicroBatcher(max_items, wait_ms, max_cost)

    async def predict(
        self, service: TextClassifierService, items: Sequence[PreparedItem]
    ) -> list[ClassifyResult]:
        lane = self.small if sum(item.cost for item in items) <= self.max_cost else self.big
        return await lane.predict(service, items)

    async def aclose(self) -> None:
        await self.small.aclose()
        await self.big.aclose()


def _deliver(job: _Job, results: list[ClassifyResult]) -> None:
    if job.finished:
        return
    job.results.extend(results)
    if len(job.results) == len(job.items):
        job.future.set_result(job.results)


def _fail(job: _Job, exc: Exception) -> None:
    if job.finished:
        return
    logger.error("inference failed for a request of %d item(s)", len(job.items), exc_info=exc)
    job.future.set_exception(InferenceError.caused_by(exc))


def make_runner(
    mode: str, max_items: int = 64, wait_ms: float = 2.0, max_cost: int = 1_000_000
) -> InferenceRunner:
    if mode == "microbatch":
        return TwoLaneBatcher(max_items=max_items, wait_ms=wait_ms, max_cost=max_cost)
    if mode == "inline":
        return InlineRunner()
    return ThreadPoolRunner()

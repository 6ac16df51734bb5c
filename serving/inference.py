"""Running CPU-bound classification without blocking the event loop.

- `threadpool`: each request runs the model in a worker thread (anyio's pool).
- `microbatch`: requests queue up; one task takes everything waiting (up to `max_items` reports, waiting
  at most `wait_ms` for more) and runs the model once per batch in a thread. Vectorising many short
  reports at once costs much less than one call per report.
- `inline`: runs on the event loop (blocks it); kept only to measure the other two against.

A batch never mixes model versions: items are grouped by the service object they started with.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from starlette.concurrency import run_in_threadpool

from serving.schemas import ClassifyResult
from serving.text_service import PreparedItem, TextClassifierService


class InferenceRunner(Protocol):
    async def predict(
        self, service: TextClassifierService, items: Sequence[PreparedItem]
    ) -> list[ClassifyResult]: ...

    async def aclose(self) -> None: ...


class ThreadPoolRunner:
    async def predict(
        self, service: TextClassifierService, items: Sequence[PreparedItem]
    ) -> list[ClassifyResult]:
        return await run_in_threadpool(service.predict, items)

    async def aclose(self) -> None:
        return None


class InlineRunner:
    async def predict(
        self, service: TextClassifierService, items: Sequence[PreparedItem]
    ) -> list[ClassifyResult]:
        return service.predict(items)

    async def aclose(self) -> None:
        return None


@dataclass
class _Pending:
    service: TextClassifierService
    items: Sequence[PreparedItem]
    future: asyncio.Future[list[ClassifyResult]] = field(repr=False)


class MicroBatcher:
    def __init__(self, max_items: int = 64, wait_ms: float = 2.0) -> None:
        self.max_items = max_items
        self.wait_seconds = wait_ms / 1000
        self._queue: asyncio.Queue[_Pending] | None = None
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
        self._queue.put_nowait(_Pending(service, items, future))
        return await future

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        assert self._queue is not None
        while True:
            batch = await self._collect(self._queue)
            for service, group in _by_service(batch).items():
                await self._predict_group(service, group)

    async def _collect(self, queue: asyncio.Queue[_Pending]) -> list[_Pending]:
        batch = [await queue.get()]
        size = len(batch[0].items)
        deadline = asyncio.get_running_loop().time() + self.wait_seconds
        while size < self.max_items:
            try:
                pending = queue.get_nowait()
            except asyncio.QueueEmpty:
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    break
                try:
                    pending = await asyncio.wait_for(queue.get(), remaining)
                except TimeoutError:
                    break
            batch.append(pending)
            size += len(pending.items)
        return batch

    @staticmethod
    async def _predict_group(service: TextClassifierService, group: list[_Pending]) -> None:
        items = [item for pending in group for item in pending.items]
        try:
            results = await run_in_threadpool(service.predict, items)
        except Exception as exc:
            for pending in group:
                if not pending.future.done():
                    pending.future.set_exception(exc)
            return
        start = 0
        for pending in group:
            end = start + len(pending.items)
            if not pending.future.done():  # the client may have gone
                pending.future.set_result(results[start:end])
            start = end


def _by_service(batch: list[_Pending]) -> dict[TextClassifierService, list[_Pending]]:
    groups: dict[TextClassifierService, list[_Pending]] = {}
    for pending in batch:
        groups.setdefault(pending.service, []).append(pending)
    return groups


def make_runner(mode: str, max_items: int = 64, wait_ms: float = 2.0) -> InferenceRunner:
    if mode == "microbatch":
        return MicroBatcher(max_items=max_items, wait_ms=wait_ms)
    if mode == "inline":
        return InlineRunner()
    return ThreadPoolRunner()

from __future__ import annotations

import asyncio

from serving.inference import MicroBatcher, ThreadPoolRunner
from serving.text_service import PreparedItem, TextClassifierService

from .conftest import FakeClassifier


def items(*texts: str) -> list[PreparedItem]:
    return [PreparedItem(str(i), text) for i, text in enumerate(texts)]


def test_micro_batches_group_waiting_requests_and_split_the_answers():
    classifier = FakeClassifier()
    service = TextClassifierService(classifier, "gridsense-text", "1")
    other = TextClassifierService(FakeClassifier(), "gridsense-text", "2")  # a newer version, mid-swap

    async def scenario():
        batcher = MicroBatcher(max_items=64, wait_ms=20)
        requests = [
            batcher.predict(service, items("井盖丢了", "楼上吵")),
            batcher.predict(service, items("噪音")),
            batcher.predict(other, items("井盖松了")),
        ]
        answers = await asyncio.gather(*requests)
        await batcher.aclose()
        return answers

    first, second, third = asyncio.run(scenario())

    assert [r.risk_group for r in first] == ["hazard", "dispute"] and [r.id for r in first] == ["0", "1"]
    assert [r.risk_group for r in second] == ["dispute"] and second[0].id == "0"
    assert third[0].risk_group == "hazard"
    assert [call["texts"] for call in classifier.calls] == [["井盖丢了", "楼上吵", "噪音"]]


def test_a_failing_batch_fails_its_requests_only():
    class Broken(FakeClassifier):
        def describe(self, texts, top_k=3, review_threshold=None, label_threshold=None):
            raise RuntimeError("boom")

    async def scenario():
        batcher = MicroBatcher(wait_ms=0)
        broken = TextClassifierService(Broken(), "gridsense-text", "9")
        fine = TextClassifierService(FakeClassifier(), "gridsense-text", "1")
        results = await asyncio.gather(
            batcher.predict(broken, items("a")), batcher.predict(fine, items("b")), return_exceptions=True
        )
        later = await batcher.predict(fine, items("c"))  # the batcher keeps running
        await batcher.aclose()
        return results, later

    (failed, succeeded), later = asyncio.run(scenario())

    assert isinstance(failed, RuntimeError) and succeeded[0].id == "0" and later[0].id == "0"


def test_the_thread_pool_runner_gives_the_same_answers():
    service = TextClassifierService(FakeClassifier(), "gridsense-text", "1")

    results = asyncio.run(ThreadPoolRunner().predict(service, items("井盖丢了")))

    assert results[0].risk_group == "hazard"

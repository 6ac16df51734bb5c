from __future__ import annotations

import asyncio
import threading

from serving.inference import InferenceError, MicroBatcher, ThreadPoolRunner, TwoLaneBatcher, make_runner
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

    assert isinstance(failed, InferenceError) and isinstance(failed.__cause__, RuntimeError)
    assert succeeded[0].id == "0" and later[0].id == "0"


def test_the_thread_pool_runner_gives_the_same_answers():
    service = TextClassifierService(FakeClassifier(), "gridsense-text", "1")

    results = asyncio.run(ThreadPoolRunner().predict(service, items("井盖丢了")))

    assert results[0].risk_group == "hazard"


class Poisoned(FakeClassifier):
    """Fails a whole batch whenever one text in it contains "毒" (as polars did on a lone surrogate)."""

    def __init__(self) -> None:
        super().__init__()
        self.attempts: list[list[str]] = []

    def describe(self, texts, top_k=3, review_threshold=None, label_threshold=None):
        self.attempts.append(list(texts))
        if any("毒" in text for text in texts):
            raise ValueError("cannot encode")
        return super().describe(texts, top_k, review_threshold, label_threshold)


def test_a_poisoned_request_in_a_micro_batch_fails_alone():
    classifier = Poisoned()
    service = TextClassifierService(classifier, "gridsense-text", "1")
    valid = [items(f"井盖{i}", f"噪音{i}") for i in range(7)]

    async def scenario():
        batcher = MicroBatcher(max_items=64, wait_ms=20)
        requests = [batcher.predict(service, request) for request in valid[:3]]
        requests.append(batcher.predict(service, items("好", "有毒")))
        requests += [batcher.predict(service, request) for request in valid[3:]]
        answers = await asyncio.gather(*requests, return_exceptions=True)
        await batcher.aclose()
        return answers

    answers = asyncio.run(scenario())
    alone = [service.predict(request) for request in valid]

    poisoned = answers.pop(3)
    assert isinstance(poisoned, InferenceError)
    assert answers == alone  # every other request: the answer it gets on its own
    assert len(classifier.attempts[0]) == 16  # they did share one batch first


def test_a_big_request_is_served_in_slices_with_newcomers_in_between():
    classifier = FakeClassifier()
    service = TextClassifierService(classifier, "gridsense-text", "1")
    big = items(*[f"井盖松动了{i:03d}" for i in range(40)])  # 8 characters each

    async def scenario():
        batcher = MicroBatcher(max_items=64, wait_ms=0, max_cost=80)
        first = asyncio.create_task(batcher.predict(service, big))
        await asyncio.sleep(0)  # the big request is queued first
        second = asyncio.create_task(batcher.predict(service, items("噪音")))
        answers = await asyncio.gather(first, second)
        await batcher.aclose()
        return answers

    big_answer, small_answer = asyncio.run(scenario())

    calls = [call["texts"] for call in classifier.calls]
    assert [len(texts) for texts in calls] == [10, 1, 10, 10, 10]  # 80 characters a call
    assert calls[1] == ["噪音"]  # the newcomer right after the slice in progress, in a call of its own
    assert [r.id for r in big_answer] == [str(i) for i in range(40)]
    assert small_answer[0].risk_group == "dispute"


def test_evidence_items_cost_more_so_fewer_go_into_a_call():
    classifier = FakeClassifier()
    service = TextClassifierService(classifier, "gridsense-text", "1")
    explained = [PreparedItem(str(i), "井盖松动了", evidence=True) for i in range(4)]  # 5 chars x 13

    async def scenario():
        batcher = MicroBatcher(max_items=64, wait_ms=0, max_cost=140)
        answer = await batcher.predict(service, explained)
        await batcher.aclose()
        return answer

    answer = asyncio.run(scenario())

    assert [len(call["texts"]) for call in classifier.calls if "texts" in call] == [2, 2]
    assert all(result.evidence for result in answer)


def test_a_request_whose_client_left_is_not_run():
    classifier = FakeClassifier()
    service = TextClassifierService(classifier, "gridsense-text", "1")

    async def scenario():
        batcher = MicroBatcher(max_items=64, wait_ms=0, max_cost=5)
        gone = asyncio.create_task(batcher.predict(service, items(*["噪音扰民"] * 20)))
        await asyncio.sleep(0)
        while not classifier.calls:
            await asyncio.sleep(0.001)
        gone.cancel()
        answer = await batcher.predict(service, items("井盖"))
        await batcher.aclose()
        return answer

    answer = asyncio.run(scenario())

    assert answer[0].risk_group == "hazard"
    assert len(classifier.calls) < 20  # the rest of the cancelled request was dropped


def test_the_thread_pool_runner_wraps_model_failures():
    service = TextClassifierService(Poisoned(), "gridsense-text", "1")

    try:
        asyncio.run(ThreadPoolRunner().predict(service, items("有毒")))
    except InferenceError as error:
        assert error.status_code == 500 and isinstance(error.__cause__, ValueError)
    else:
        raise AssertionError("no InferenceError")


def test_a_small_request_does_not_wait_for_a_slice_of_a_big_one():
    """The big request's slice is held in the model until the small request has been answered: with one
    queue the small one would wait for it (and this test would time out)."""
    release = threading.Event()

    class Slow(FakeClassifier):
        def describe(self, texts, top_k=3, review_threshold=None, label_threshold=None):
            if any("大" in text for text in texts):
                assert release.wait(timeout=10), "the small request was not answered meanwhile"
            return super().describe(texts, top_k, review_threshold, label_threshold)

    service = TextClassifierService(Slow(), "gridsense-text", "1")

    async def scenario():
        runner = TwoLaneBatcher(max_items=64, wait_ms=0, max_cost=20)
        big = asyncio.create_task(runner.predict(service, items(*["大批量报告内容"] * 10)))  # 70 > 20
        await asyncio.sleep(0.05)  # its first slice is in the model now
        small = await asyncio.wait_for(runner.predict(service, items("井盖松动")), timeout=5)
        release.set()
        answer = await big
        await runner.aclose()
        return small, answer

    small, big = asyncio.run(scenario())

    assert small[0].risk_group == "hazard" and len(big) == 10


def test_the_microbatch_setting_builds_the_two_lane_batcher():
    assert isinstance(make_runner("microbatch"), TwoLaneBatcher)
    assert isinstance(make_runner("threadpool"), ThreadPoolRunner)


def test_a_request_that_fits_in_one_call_is_never_cut():
    classifier = FakeClassifier()
    service = TextClassifierService(classifier, "gridsense-text", "1")
    requests = [items(*[f"噪音扰民{j}{i}" for i in range(3)]) for j in range(3)]  # 3 x 3 x 6 characters

    async def scenario():
        batcher = MicroBatcher(max_items=64, wait_ms=20, max_cost=45)  # room for 2.5 requests a call
        answers = await asyncio.gather(*(batcher.predict(service, request) for request in requests))
        await batcher.aclose()
        return answers

    answers = asyncio.run(scenario())

    assert [len(call["texts"]) for call in classifier.calls] == [6, 3]
    assert [[r.id for r in answer] for answer in answers] == [["0", "1", "2"]] * 3

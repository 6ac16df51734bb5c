"""Calls from many threads done as batches: every caller gets its own result, a failing job fails only its
caller, calls about one key are never in one batch, and a lone call runs at once."""

from __future__ import annotations

import threading
import time

import pytest

from serving.combining import Combiner


def test_concurrent_calls_are_batched_and_each_gets_its_own_result():
    batches: list[list[int]] = []
    release = threading.Event()

    def run_batch(jobs):
        batches.append(list(jobs))
        if len(batches) == 1:
            release.wait(5)  # the first batch runs while the others queue up
        return [job * 10 for job in jobs]

    combiner = Combiner(run_batch)
    results: dict[int, int] = {}
    threads = [threading.Thread(target=lambda j=j: results.__setitem__(j, combiner.run(j))) for j in range(8)]
    threads[0].start()
    time.sleep(0.1)
    for thread in threads[1:]:
        thread.start()
    time.sleep(0.2)
    release.set()
    for thread in threads:
        thread.join(5)
    assert results == {j: j * 10 for j in range(8)}
    assert batches[0] == [0] and sorted(batches[1]) == list(range(1, 8)), batches


def test_a_failing_job_fails_only_its_caller():
    def run_batch(jobs):
        if "bad" in jobs:
            raise ValueError("bad job")
        return [job.upper() for job in jobs]

    combiner = Combiner(run_batch)
    assert combiner.run("a") == "A"  # a lone call runs at once
    from serving.combining import _Entry

    entries = [_Entry("x"), _Entry("bad"), _Entry("y")]
    combiner._run(entries)
    assert [e.result for e in entries] == ["X", None, "Y"]
    assert isinstance(entries[1].error, ValueError) and all(e.done.is_set() for e in entries)
    with pytest.raises(ValueError, match="bad job"):
        combiner.run("bad")


def test_jobs_about_one_key_and_past_the_size_limit_wait_for_the_next_batch():
    from serving.combining import _Entry

    combiner = Combiner(lambda jobs: jobs, size=lambda job: len(job), keys=lambda job: job, max_size=4)
    combiner._queue.extend(_Entry(job) for job in (("a", "b"), ("b",), ("c",), ("d", "e"), ("f",)))
    assert [e.job for e in combiner._take()] == [("a", "b"), ("c",), ("f",)]
    assert [e.job for e in combiner._take()] == [("b",), ("d", "e")]
    assert combiner._take() == []

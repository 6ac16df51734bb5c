"""Spark's event log (``get_spark(event_log_dir=...)``) read back: the bytes its tasks spilled and wrote
to local disk, summed over the finished tasks (the benchmark reports them to show a job spilling)."""

from __future__ import annotations

import json

from engines.spark_session import spill_totals


def task_end(memory: int, disk: int, shuffle: int) -> str:
    metrics = {
        "Memory Bytes Spilled": memory,
        "Disk Bytes Spilled": disk,
        "Shuffle Write Metrics": {"Shuffle Bytes Written": shuffle},
    }
    return json.dumps({"Event": "SparkListenerTaskEnd", "Task Metrics": metrics})


def test_spills_and_shuffle_writes_are_summed_over_finished_tasks(tmp_path):
    lines = [
        json.dumps({"Event": "SparkListenerApplicationStart"}),
        task_end(memory=1_000, disk=200, shuffle=50),
        task_end(memory=0, disk=0, shuffle=70),
        json.dumps({"Event": "SparkListenerTaskEnd"}),  # a failed task may carry no metrics
    ]
    (tmp_path / "local-1").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "local-2").write_text(task_end(memory=5, disk=3, shuffle=0) + "\n", encoding="utf-8")

    assert spill_totals(tmp_path) == {
        "memory_bytes_spilled": 1_005,
        "disk_bytes_spilled": 203,
        "shuffle_bytes_written": 120,
        "tasks": 4,
        "tasks_spilling": 2,
    }

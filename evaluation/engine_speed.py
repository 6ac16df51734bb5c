"""`gridsense benchmark panel --engine polars|spark`: the panel job on each engine, wall time and peak memory.

The seeded synthetic log of ``evaluation.panel_speed`` (grids on a lattice, jittered by up to a metre so
that nearest neighbours have no distance ties, a district per 25 grids) is written as Parquet first (not
timed). The timed job then runs in a child process, as a batch job would: read the log, build the panel
with every feature family, write it as partitioned Parquet (site, month). The parent samples the resident
memory of the child and all its descendants (the JVM and Spark's Python workers included) every 0.2 s,
and stops the child when it exceeds the cap (reported as ``"status": "over memory cap"``), so a run never
takes the shared machine's memory.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


CHUNK_EVENTS = 10_000_000  # events generated at once: about 4 GiB in the generator (50 M at once: > 21 GiB)


def write_synthetic(
    events: int, grids: int, weeks: int, folder: Path, seed: int = 0, chunk: int = CHUNK_EVENTS
) -> tuple[Path, Path]:
    """The log and the grid table as Parquet. A log of more than ``chunk`` events is written chunk by
    chunk: chunk i is the log of seed ``seed + i`` (its own draw of busy and quiet grids) with its event ids
    moved past the previous chunks', so the generator's memory stays that of one chunk."""
    import pyarrow.parquet as pq

    from evaluation.panel_speed import synthetic_log

    folder.mkdir(parents=True, exist_ok=True)
    writer, done, part = None, 0, 0
    while done < events:
        size = min(chunk, events - done)
        log, table = synthetic_log(size, grids, weeks, seed + part)
        log = log.with_columns((pl.col("event_id").cast(pl.Int64) + done).cast(pl.String)) if done else log
        arrow = log.to_arrow()
        writer = writer or pq.ParquetWriter(folder / "log.parquet", arrow.schema)
        writer.write_table(arrow)
        done, part = done + size, part + 1
        del log, arrow
    writer.close()
    table = synthetic_log(1, grids, weeks, seed)[1]
    jitter = np.random.default_rng(seed + 1).uniform(-1.0, 1.0, (2, table.height))
    table = table.with_columns(pl.col("x_m") + jitter[0], pl.col("y_m") + jitter[1])
    table.write_parquet(folder / "grids.parquet")
    return folder / "log.parquet", folder / "grids.parquet"


def time_engine_panel(
    engine: str,
    events: int,
    grids: int,
    weeks: int = 156,
    folder: Path | None = None,
    memory_cap_gib: float = 8.0,
    spark_driver_memory: str = "2g",
    shard_grids: int = 1_000,
    spark_event_log: bool = False,
) -> dict:
    """Wall time and peak resident memory (process tree) of the panel job on ``engine``. With
    ``spark_event_log`` Spark keeps its event log beside the panel and the result has what its tasks
    spilled and wrote to local disk (``engines.spark_session.spill_totals``)."""
    if folder is None:  # the log and the panel in a folder removed afterwards
        import tempfile

        with tempfile.TemporaryDirectory(prefix="gridsense-engine-bench-") as tmp:
            return time_engine_panel(
                engine, events, grids, weeks, Path(tmp), memory_cap_gib, spark_driver_memory, shard_grids,
                spark_event_log,
            )  # fmt: skip
    folder = Path(folder)
    log_path, grids_path = write_synthetic(events, grids, weeks, folder / f"log-{events}-{grids}-{weeks}")
    out = folder / f"panel-{engine}"
    command = [
        sys.executable,
        "-m",
        "evaluation.engine_speed",
        engine,
        str(log_path),
        str(grids_path),
        str(out),
        spark_driver_memory,
        str(shard_grids),
        str(folder / "spark-events") if spark_event_log and engine == "spark" else "",
    ]
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, start_new_session=True)
    peak, status, returncode, ticks = 0, "ok", None, {}
    while returncode is None:
        pid, wait_status, _ = os.wait4(child.pid, os.WNOHANG)
        if pid:
            returncode = os.waitstatus_to_exitcode(wait_status)  # (its rusage would count reaped
            break  # descendants twice: the samples below already have each process's own ticks)
        rss, seen = tree_usage(child.pid)
        peak = max(peak, rss)
        for each, used in seen.items():  # CPU of every process of the tree, as last seen alive
            ticks[each] = max(ticks.get(each, 0), used)
        if peak > memory_cap_gib * 2**30:
            os.killpg(child.pid, signal.SIGKILL)
            status = "over memory cap"
        time.sleep(0.2)
    wall = time.perf_counter() - started
    stdout = child.stdout.read()
    result = json.loads(stdout.strip().splitlines()[-1]) if status == "ok" and returncode == 0 else {}
    if status == "ok" and returncode != 0:
        status = f"failed (exit {returncode})"
    return {
        "engine": engine,
        "events": events,
        "grids": grids,
        "weeks": weeks,
        "status": status,
        "seconds": round(wall, 1),
        "cpu_seconds": round(sum(ticks.values()) / TICKS, 1),
        "load_average_1m": round(os.getloadavg()[0], 1),
        "peak_rss_gib": round(peak / 2**30, 2),
        "memory_cap_gib": memory_cap_gib,
        **(
            {"spark_driver_memory": spark_driver_memory, "shard_grids": shard_grids}
            if engine == "spark"
            else {}
        ),
        **result,
    }


def tree_usage(pid: int) -> tuple[int, dict[int, int]]:
    """Resident bytes of ``pid`` and all its descendants, and each one's CPU clock ticks so far (/proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    cpu: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
        rss[int(entry)] = int(fields[21]) * PAGE
        cpu[int(entry)] = int(fields[11]) + int(fields[12])
    total, used, stack = 0, {}, [pid]
    while stack:
        current = stack.pop()
        total += rss.get(current, 0)
        used[current] = cpu.get(current, 0)
        stack.extend(children.get(current, []))
    return total, used


def _run(
    engine: str, log_path: str, grids_path: str, out: str, driver_memory: str, shard_grids: str, events_dir=""
) -> dict:
    """The timed job (in the child process)."""
    grids, spilled = pl.read_parquet(grids_path), None
    if engine == "polars":
        from engines.partitions import write_partitioned
        from features.panel import build_panel

        panel = build_panel(pl.read_parquet(log_path), grids)
        written = write_partitioned(panel, Path(out), "bench", "week_start")
        rows, columns = panel.height, panel.width
    else:
        from engines.spark_io import write_partitioned
        from engines.spark_panel import build_panel_spark
        from engines.spark_session import get_spark

        spark = get_spark(
            driver_memory=driver_memory,
            shuffle_partitions=16,
            local_dir=f"{out}-spark-tmp",
            event_log_dir=events_dir or None,
        )
        spark.sparkContext.setLogLevel("ERROR")
        n_shards = -(-grids.height // int(shard_grids))
        panel = build_panel_spark(spark, spark.read.parquet(log_path), grids, n_shards=n_shards)
        written = write_partitioned(panel, Path(out), "bench", "week_start")
        rows, columns = None, len(panel.columns) - 0
        if events_dir:
            from engines.spark_session import spill_totals

            spark.stop()  # the event log is complete once the application has ended
            spilled = spill_totals(events_dir)
    scanned = pl.scan_parquet([str(p / "*.parquet") for p in written]).select(pl.len()).collect().item()
    return {
        "rows": rows if rows is not None else scanned,
        "rows_written": scanned,
        "columns": columns,
        "partitions": len(written),
        **({"spark_tasks": spilled} if spilled is not None else {}),
    }


if __name__ == "__main__":
    print(json.dumps(_run(*sys.argv[1:8])))

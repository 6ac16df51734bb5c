"""The load generator and the figures it reports (the real run needs a trained champion: see
docs/BENCHMARKS.md)."""

from __future__ import annotations

import asyncio

import pytest

from evaluation.load_test import (
    Sample,
    drive,
    http_request,
    markdown_table,
    summarise,
    swap_spike,
)


def test_summary_percentiles_errors_and_versions():
    samples = [Sample(i * 0.01, 0.010, 200, "3") for i in range(98)]
    samples += [Sample(1.0, 0.500, 503, "3"), Sample(1.1, 0.020, 0, "")]

    result = summarise(
        "classify_single", samples, elapsed=2.0, workers=2, inference="microbatch", concurrency=4
    )

    assert (result.requests, result.errors, result.throughput) == (100, 2, 50.0)
    assert result.p50_ms == pytest.approx(10.0)
    assert result.max_ms == pytest.approx(500.0)
    assert result.statuses == {"200": 98, "503": 1, "0": 1}
    assert result.versions == {"3": 99, "": 1}
    assert "classify_single" in markdown_table([result]) and "2 (2.00%)" in markdown_table([result])


def test_swap_spike_compares_windows_after_the_swap_with_the_p99_before():
    before = [Sample(t / 100, 0.010, 200, "1") for t in range(100)]
    after = [Sample(1.0 + t / 100, 0.010, 200, "2") for t in range(100)]
    after[30] = Sample(1.30, 0.080, 200, "2")  # one slow request in the window [1.25, 1.50)

    spike = swap_spike(before + after, swapped_at=1.0)

    assert spike["p99_before_ms"] == pytest.approx(10.0)
    assert spike["worst_window_p99_ms"] > 50  # that window's p99 is pulled up by the slow request
    assert spike["spike_ratio"] == pytest.approx(spike["worst_window_p99_ms"] / 10.0, rel=0.01)
    assert spike["worst_window_after_swap_s"] == pytest.approx(0.25)
    assert (spike["windows_over_3x"], spike["windows"]) == (1, 4)


@pytest.mark.timeout(30)
def test_drive_is_bounded_by_its_request_budget_and_reads_keep_alive_answers():
    async def scenario():
        served = []

        async def handle(reader, writer):
            while True:
                try:
                    await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    break
                served.append(1)
                writer.write(b"HTTP/1.1 200 OK\r\nX-Model-Version: 9\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        make = lambda rng: http_request("GET", "/x", "key")  # noqa: E731
        samples, _ = await drive(port, make, concurrency=3, seconds=20, max_requests=50)
        server.close()
        await server.wait_closed()
        return samples, served

    samples, served = asyncio.run(scenario())

    assert len(samples) == 50 == len(served)
    assert {(s.status, s.version) for s in samples} == {(200, "9")}


def test_intake_requests_name_a_grid_and_batches_hold_32_reports():
    import json
    import random

    from evaluation.load_test import intake_batch, intake_single

    rng = random.Random(0)
    head, _, body = intake_single(["楼道堆满杂物"], ["G0001", "G0002"], "k")(rng).partition(b"\r\n\r\n")
    assert head.startswith(b"POST /v1/intake HTTP/1.1")
    assert json.loads(body)["grid_id"] in {"G0001", "G0002"}
    _, _, body = intake_batch(["楼道堆满杂物"], ["G0001"], "k")(rng).partition(b"\r\n\r\n")
    assert [item["grid_id"] for item in json.loads(body)["items"]] == ["G0001"] * 32


def test_ratios_compare_each_scenario_with_the_risk_read_of_the_same_run():
    from evaluation.load_test import ratio_lines, throughput_ratios

    def result(name, rps, workers=2):
        samples = [Sample(0, 0.01, 200, "1")] * int(rps)
        return summarise(name, samples, elapsed=1.0, workers=workers, inference="microbatch", concurrency=4)

    results = [result("risk_read", 1000), result("intake_single", 600), result("intake_batch32", 10)]
    results += [result("intake_single", 100, workers=1)]  # no risk_read for 1 worker: no ratio

    ratios = throughput_ratios(results)

    assert [(r["scenario"], r["ratio_to_risk_read"]) for r in ratios] == [
        ("intake_single", 0.6),
        ("intake_batch32", 0.01),
    ]
    assert ratios[1]["reports_per_s"] == 320.0
    assert "intake_single / risk_read" in ratio_lines(ratios) and "0.60x" in ratio_lines(ratios)


def test_the_prefilled_store_holds_the_logs_reports_in_their_grids(tmp_path, monkeypatch):
    import polars as pl

    from core.report_store import SqliteReportStore
    from evaluation import load_test

    log = tmp_path / "datasets" / "demo" / "events.parquet"
    log.parent.mkdir(parents=True)
    texts = ["阳光小区门口井盖松动", "楼道堆满杂物"]
    pl.DataFrame({"title": ["井盖松动", None], "text": texts, "grid_id": ["G1", "G2"]}).write_parquet(log)
    monkeypatch.setenv("GRIDSENSE_HOME", str(tmp_path))
    monkeypatch.setattr(load_test, "forecast_grids", lambda: ["G1", "G2"])

    info = load_test.prefill_report_store(tmp_path / "store" / "r.sqlite", reports=50)

    assert info["reports"] == 50
    store = SqliteReportStore(tmp_path / "store" / "r.sqlite")
    stored = store.get([f"S{i:08d}" for i in range(50)])
    assert {(r.grid_id, r.text) for r in stored} == {("G1", "阳光小区门口井盖松动"), ("G2", "楼道堆满杂物")}
    assert all(len(r.features) == 256 for r in stored)


def test_the_server_s_cpu_per_request_is_compared_too():
    import os

    from evaluation.load_test import ServerPort, process_tree_cpu_seconds, throughput_ratios

    assert process_tree_cpu_seconds(os.getpid()) > 0
    assert process_tree_cpu_seconds(2**22 + 12345) != process_tree_cpu_seconds(
        2**22 + 12345
    )  # NaN: no such pid
    port = ServerPort(8123, pid=42)
    assert port == 8123 and port.pid == 42 and f":{port}" == ":8123"

    def result(name, ms_per_request):
        made = summarise(name, [Sample(0, 0.01, 200, "1")] * 10, 1.0, 2, "microbatch", 4)
        made.server_cpu_ms_per_request = ms_per_request
        return made

    [ratio] = throughput_ratios([result("risk_read", 1.0), result("intake_single", 8.0)])
    assert ratio["cpu_ratio_to_risk_read"] == 0.12
    assert "server CPU ms/req" in markdown_table([result("intake_single", 8.0)])

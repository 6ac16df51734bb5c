"""Through the CLI: every whole-file error is one line on stderr with exit code 2, never a traceback."""

from __future__ import annotations

import stat
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from cli.app import app

HEADER = "event_id,reported_at,grid_id,channel,title,text,category_l1,category_l2,category_l3"
TEXT = "楼上半夜装修，噪音很大"
GOOD = f"E1,2024-03-05 14:20:00,G001,hotline,噪音,{TEXT},矛盾纠纷,邻里纠纷,噪音扰邻纠纷"
runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, [str(arg) for arg in args])


def assert_one_line_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def csv_file(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        ("", ["empty file"]),
        ("event_id,reported_at,channel,text,category_l1\nE1,2024-03-05,app,a,b\n", ["grid_id", "rename"]),
        (f"{HEADER},TEXT\n{GOOD},x\n", ["duplicate column name(s) ['text']"]),
    ],
    ids=["empty", "missing column", "duplicate header"],
)
def test_validate_events_bad_files(tmp_path: Path, content: str, fragments: list[str]):
    assert_one_line_error(run("validate-events", csv_file(tmp_path, "e.csv", content)), *fragments)


def test_validate_events_missing_file_and_bad_encoding_name(tmp_path: Path):
    assert_one_line_error(run("validate-events", tmp_path / "absent.csv"), "no such file")
    path = csv_file(tmp_path, "e.csv", f"{HEADER}\n{GOOD}\n")
    assert_one_line_error(run("validate-events", path, "--encoding", "klingon"), "unknown encoding")


def test_bad_taxonomy_files(tmp_path: Path):
    path = csv_file(tmp_path, "e.csv", f"{HEADER}\n{GOOD}\n")
    assert_one_line_error(run("validate-events", path, "--taxonomy", tmp_path / "none.yaml"), "taxonomy")
    broken = csv_file(tmp_path, "t.yaml", "categories: [unclosed\n")
    assert_one_line_error(run("validate-events", path, "--taxonomy", broken), "not valid YAML")


def test_validate_events_gbk_old_dates_and_private_redacted_rejects(tmp_path: Path):
    old = GOOD.replace("E1,2024-03-05 14:20:00", "E2,1700-01-01").replace("噪音很大", "电话13812345678")
    formula = GOOD.replace("E1,", "E3,").replace("hotline", "fax").replace(TEXT, "@SUM(1+1)")
    path = csv_file(tmp_path, "e.csv", f"{HEADER}\n{GOOD}\n{old}\n{formula}\n", "gbk")
    rejects = tmp_path / "rejects.csv"
    result = run("validate-events", path, "--rejects", rejects)
    assert result.exit_code == 0, result.output
    assert "accepted 1 rows, rejected 2 (read as gb18030)" in result.stdout
    assert "reported_at before 2000-01-01" in result.stdout
    assert stat.S_IMODE(rejects.stat().st_mode) == 0o600
    written = rejects.read_text("utf-8")
    assert "13812345678" not in written and "<PHONE>" in written and "'@SUM(1+1)" in written
    run("validate-events", path, "--rejects", rejects, "--raw-rejects", "--not-before", "1600-01-01")
    assert "13812345678" not in rejects.read_text("utf-8")  # 1700 is in the window now: not rejected
    run("validate-events", path, "--rejects", rejects, "--raw-rejects")
    assert "13812345678" in rejects.read_text("utf-8")


def test_build_features_file_errors_and_the_panel_span_guard(tmp_path: Path):
    events = csv_file(tmp_path, "e.csv", f"{HEADER}\n{GOOD}\n")
    out = tmp_path / "features"
    missing = run("build-features", "--events", events, "--grids", tmp_path / "absent.parquet", "--out", out)
    assert_one_line_error(missing, "grid table", "does not exist")
    grids = tmp_path / "grids.parquet"
    pl.DataFrame({"grid_id": ["G001"], "x_m": [0.0]}).write_parquet(grids)
    assert_one_line_error(run("build-features", "--events", events, "--grids", grids), "['y_m']")
    pl.DataFrame({"grid_id": ["G001"], "x_m": [0.0], "y_m": [0.0]}).write_parquet(grids)
    result = run("build-features", "--events", events, "--grids", grids, "--out", out, "--max-panel-weeks=1")
    assert_one_line_error(result, "the panel would span", "--max-panel-weeks")
    empty = csv_file(tmp_path, "old.csv", f"{HEADER}\n{GOOD.replace('2024-03-05', '1700-03-05')}\n")
    result = run("build-features", "--events", empty, "--grids", grids, "--out", out)
    assert_one_line_error(result, "no valid events", "rejects.csv")


def test_unreadable_panel_and_text_set_for_training_and_forecast(tmp_path: Path):
    broken = csv_file(tmp_path, "panel.parquet", "not parquet")
    assert_one_line_error(run("train", "risk", "--panel", broken), "not a readable Parquet file")
    assert_one_line_error(run("forecast", "--panel", tmp_path / "absent.parquet"), "panel", "does not exist")
    pl.DataFrame({"text": ["a"]}).write_parquet(tmp_path / "text.parquet")
    assert_one_line_error(run("train", "text", "--data", tmp_path / "text.parquet"), "lacks column(s)")


def test_bugs_still_show_their_traceback(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Only user errors are shortened: anything else is a bug and must stay visible."""
    import features.events

    def boom(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(features.events, "load_events", boom)
    result = run("validate-events", csv_file(tmp_path, "e.csv", f"{HEADER}\n{GOOD}\n"))
    assert result.exit_code == 1 and isinstance(result.exception, RuntimeError)


def test_benchmark_csv_inputs(tmp_path: Path):
    unlabelled = csv_file(tmp_path, "reports.csv", "id,title,text\n1,,路灯坏了\n")
    result = run("benchmark", "text-split", unlabelled, "--out", tmp_path / "out")
    assert_one_line_error(result, "labelled CSV", "['label']")
    assert_one_line_error(run("benchmark", "text-split", tmp_path / "absent.csv"), "does not exist")

"""CSV files for people: OWASP formula escaping and files created private (0600)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import polars as pl
import pytest

from features.people_files import escape_formula, escape_formulas, write_csv_for_people, write_private


@pytest.mark.parametrize(
    "value",
    ["=1+1", "+1+cmd", "-1+cmd", "@SUM(A1)", "\t=1", "\r=1", "＝1", "＋1", "－1", "＠SUM(A1)", "  =1", "-"],
)
def test_formula_leading_cells_get_a_quote(value: str):
    assert escape_formula(value) == "'" + value


@pytest.mark.parametrize("value", ["-12.5", "+86", "-1e5", "3", "", "文本=1", "a@b.cn", "'=already"])
def test_plain_numbers_and_ordinary_text_are_kept(value: str):
    assert escape_formula(value) == value


def test_frame_escaping_matches_the_cell_function_and_covers_names():
    values = ["=1", "-12.5", None, "x", "＠SUM(1)", "-1+2"]
    frame = pl.DataFrame({"=name": values, "n": [1, 2, 3, 4, 5, 6]})
    escaped = escape_formulas(frame)
    assert escaped.columns == ["'=name", "n"]
    assert escaped["'=name"].to_list() == [None if v is None else escape_formula(v) for v in values]
    assert escaped["n"].to_list() == frame["n"].to_list()


def test_private_files_are_0600_from_the_start(tmp_path: Path):
    target = tmp_path / "out.csv"
    target.write_text("old")
    target.chmod(0o644)
    modes = []
    write_private(target, lambda file: modes.append(stat.S_IMODE(os.fstat(file.fileno()).st_mode)))
    assert modes == [0o600]  # already private while being written
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_a_failed_write_leaves_no_temporary_file(tmp_path: Path):
    def fail(file):
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_private(tmp_path / "out.csv", fail)
    assert list(tmp_path.iterdir()) == []


def test_csv_for_people_round_trips_with_escaped_cells(tmp_path: Path):
    path = write_csv_for_people(pl.DataFrame({"text": ['=HYPERLINK("x")', "普通"]}), tmp_path / "a.csv")
    assert pl.read_csv(path)["text"].to_list() == ['\'=HYPERLINK("x")', "普通"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

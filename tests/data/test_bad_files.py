"""Bad event files (issue 10, item 7): implausible dates, Chinese encodings, unbalanced quotes, whole-file
errors, and reject files that are private, PII-redacted and safe to open in a spreadsheet."""

from __future__ import annotations

import gzip
import os
import stat
from datetime import datetime
from pathlib import Path
from textwrap import dedent

import polars as pl
import pytest

from core.errors import DataFileError, GridSenseUserError
from features.date_window import DateWindow
from features.encodings import SAMPLE_BYTES
from features.events import load_events, validate_events
from features.schema import SchemaError
from features.taxonomy import Taxonomy, load_taxonomy

HEADER = "event_id,reported_at,grid_id,channel,title,text,category_l1,category_l2,category_l3"
TEXT = "楼上半夜装修，噪音很大"
ID_NUMBER = "11010519491231002X"  # valid check character
MOBILE = "13812345678"


@pytest.fixture(scope="module")
def taxonomy(tmp_path_factory: pytest.TempPathFactory) -> Taxonomy:
    path = tmp_path_factory.mktemp("taxonomy") / "taxonomy.yaml"
    path.write_text(
        dedent(
            """
            name: test
            version: "1"
            categories:
              - name: 矛盾纠纷
                risk_group: dispute
                department: 综治中心
                children:
                  - name: 邻里纠纷
                    children:
                      - name: 噪音扰邻纠纷
            """
        ),
        encoding="utf-8",
    )
    return load_taxonomy(path)


def line(event_id: str, reported_at: str = "2024-03-05 14:20:00", text: str = TEXT, title: str = "t") -> str:
    return f"{event_id},{reported_at},G001,hotline,{title},{text},矛盾纠纷,邻里纠纷,噪音扰邻纠纷"


def write(path: Path, lines: list[str], encoding: str = "utf-8") -> Path:
    path.write_bytes("\n".join([HEADER, *lines, ""]).encode(encoding))
    return path


def reasons(load) -> dict[str, str]:
    return dict(zip(load.rejects["event_id"], load.rejects["reject_reason"], strict=True))


# ---- the window of plausible dates ---------------------------------------------------------------------
def test_dates_outside_the_default_window_are_rejected_with_a_reason(tmp_path: Path, taxonomy: Taxonomy):
    path = write(
        tmp_path / "e.csv",
        [
            line("ok"),
            line("old", "1700-01-01"),
            line("y1999", "1999-12-31 23:59"),
            line("next", "2999-01-01"),
        ],
    )
    load = load_events(path, taxonomy)
    assert load.events["event_id"].to_list() == ["ok"]
    by_id = reasons(load)
    assert by_id["old"] == by_id["y1999"] == "reported_at before 2000-01-01"
    assert by_id["next"].startswith("reported_at after ")


def test_the_window_also_bounds_closed_at_and_is_configurable(taxonomy: Taxonomy):
    frame = pl.DataFrame(
        {
            "event_id": ["a", "b"],
            "reported_at": ["1995-06-01 10:00", "2024-03-05 10:00"],
            "grid_id": ["G1", "G1"],
            "channel": ["app", "app"],
            "text": [TEXT, TEXT],
            "category_l1": ["矛盾纠纷"] * 2,
            "category_l2": ["邻里纠纷"] * 2,
            "category_l3": ["噪音扰邻纠纷"] * 2,
            "closed_at": ["1995-06-02 10:00", "2031-01-01 00:00"],
        }
    )
    window = DateWindow(datetime(1990, 1, 1), datetime(2030, 1, 1))
    load = validate_events(frame, taxonomy, window=window)
    assert load.events["event_id"].to_list() == ["a"]
    assert reasons(load) == {"b": "closed_at after 2030-01-01 00:00"}
    assert validate_events(frame, taxonomy, window=DateWindow.unbounded()).rejects.is_empty()


def test_default_window_ends_a_day_after_loading():
    now = datetime(2026, 3, 1, 12, 0)
    window = DateWindow.default(now=now)
    assert window.not_before == datetime(2000, 1, 1)
    assert window.not_after == datetime(2026, 3, 2, 12, 0)


# ---- encodings ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8-sig", "utf-16"])
def test_encodings_are_detected(tmp_path: Path, taxonomy: Taxonomy, encoding: str):
    path = write(tmp_path / "e.csv", [line("E1"), line("E2", text="小区门口有人占道摆摊卖水果")], encoding)
    load = load_events(path, taxonomy)
    assert load.rejects.is_empty()
    assert load.events["text"].to_list() == [TEXT, "小区门口有人占道摆摊卖水果"]
    assert load.events.columns[0] == "event_id"  # a BOM does not stick to the first column name


def test_gb18030_four_byte_characters(tmp_path: Path, taxonomy: Taxonomy):
    """Characters outside GBK (four bytes in GB18030) are read by detection and by --encoding gbk."""
    text = "䶮先生门口有🚗占道"
    path = write(tmp_path / "e.csv", [line("E1", text=text), line("E2")], "gb18030")
    with pytest.raises(UnicodeEncodeError):
        text.encode("gbk")
    assert load_events(path, taxonomy).events["text"].to_list() == [text, TEXT]
    load = load_events(path, taxonomy, encoding="gbk")  # GBK widens to its superset GB18030
    assert load.events["text"][0] == text and load.counts["encoding"] == "gb18030"


def test_large_gbk_file_with_an_ascii_start_is_detected(tmp_path: Path, taxonomy: Taxonomy):
    """Detection looks at a sample (``SAMPLE_BYTES``) taken where the non-ASCII bytes begin."""
    ascii_rows = [f"A{i},2024-03-05 14:20:00,G001,hotline,t,noise,,," for i in range(6000)]
    late = [line("E1"), line("E2", text="䶮先生门口有🚗占道")]
    path = write(tmp_path / "e.csv", [*ascii_rows, *late], "gb18030")
    assert path.read_bytes().index("矛盾".encode("gb18030")) > SAMPLE_BYTES
    load = load_events(path, taxonomy, require_labels=False)
    assert load.rejects.is_empty() and load.counts["encoding"] == "gb18030"
    assert load.events["text"].to_list()[-2:] == [TEXT, "䶮先生门口有🚗占道"]


def test_gzipped_gbk(tmp_path: Path, taxonomy: Taxonomy):
    plain = write(tmp_path / "e.csv", [line("E1")], "gbk")
    (tmp_path / "e.csv.gz").write_bytes(gzip.compress(plain.read_bytes()))
    assert load_events(tmp_path / "e.csv.gz", taxonomy).events["text"].to_list() == [TEXT]


def test_unknown_encoding_is_a_user_error(tmp_path: Path, taxonomy: Taxonomy):
    with pytest.raises(DataFileError, match="unknown encoding 'klingon'"):
        load_events(write(tmp_path / "e.csv", [line("E1")]), taxonomy, encoding="klingon")


# ---- unbalanced quotes -------------------------------------------------------------------------------------
def test_quote_left_open_to_the_end_names_the_merged_lines(tmp_path: Path, taxonomy: Taxonomy):
    lines = [line(f"E{i}") for i in range(1, 8)]
    lines[2] = line("E3", text=f'"{TEXT}')  # file line 4; swallows lines 5-8
    load = load_events(write(tmp_path / "e.csv", lines), taxonomy)
    assert load.events["event_id"].to_list() == ["E1", "E2"]
    assert "unbalanced quote: fields from lines 4-8 merged" in reasons(load)["E3"].split("; ")


def test_quote_closed_rows_later_names_the_merged_lines(tmp_path: Path, taxonomy: Taxonomy):
    """The CSV is well-formed (the quote closes before a comma), so polars reads it: the swallowed
    records are still found."""
    lines = [line(f"E{i}") for i in range(1, 7)]
    lines[1] = line("E2", text=f'"{TEXT}')  # line 3
    lines[3] = line("E4", text=f'{TEXT}"')  # line 5 closes it
    load = load_events(write(tmp_path / "e.csv", lines), taxonomy)
    assert load.events["event_id"].to_list() == ["E1", "E5", "E6"]
    assert "unbalanced quote: fields from lines 3-5 merged" in reasons(load)["E2"].split("; ")
    assert load.counts["rows_read"] == 4


def test_a_legitimate_multi_line_text_is_not_flagged(tmp_path: Path, taxonomy: Taxonomy):
    text = '"第一行, 还有逗号\n第二行, 一个逗号\n第三行"'
    load = load_events(write(tmp_path / "e.csv", [line("E1", text=text), line("E2")]), taxonomy)
    assert load.rejects.is_empty()
    assert load.events["text"][0] == "第一行, 还有逗号\n第二行, 一个逗号\n第三行"


# ---- whole-file errors: one line, a user error -----------------------------------------------------------
def _whole_file_cases(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    cases = {
        "empty": (b"", "empty file"),
        "blank": (b"\n\n  \n", "empty file"),
        "missing column": (
            b"event_id,reported_at,channel,text,category_l1\nE1,2024-03-05,app,a\n",
            "grid_id",
        ),
        "duplicate header": (f"{HEADER},text\n{line('E1')},x\n".encode(), "duplicate column name(s)"),
        "duplicate header, case": (f"{HEADER},Title\n{line('E1')},x\n".encode(), "['title']"),
    }
    out = {}
    for name, (data, match) in cases.items():
        path = tmp_path / f"{name.replace(' ', '_').replace(',', '')}.csv"
        path.write_bytes(data)
        out[name] = (path, match)
    (tmp_path / "broken.parquet").write_bytes(b"not parquet")
    (tmp_path / "broken.csv.gz").write_bytes(b"not gzip")
    out["broken parquet"] = (tmp_path / "broken.parquet", "not a readable Parquet file")
    out["broken gzip"] = (tmp_path / "broken.csv.gz", "not a readable gzip file")
    out["no such file"] = (tmp_path / "absent.csv", "no such file")
    out["unsupported"] = (tmp_path / "events.xlsx", "unsupported file type")
    return out


def test_every_whole_file_error_is_one_line_user_error(tmp_path: Path, taxonomy: Taxonomy):
    for name, (path, match) in _whole_file_cases(tmp_path).items():
        with pytest.raises(SchemaError) as caught:
            load_events(path, taxonomy)
        error = caught.value
        assert isinstance(error, DataFileError) and isinstance(error, GridSenseUserError), name
        assert match in error.one_line(), (name, error.one_line())
        assert "\n" not in error.one_line() and error.hint, name


# ---- reject files ------------------------------------------------------------------------------------------
def _rejects_load(tmp_path: Path, taxonomy: Taxonomy):
    frame = pl.DataFrame(
        {
            "event_id": ["ok", "f1", "f2", "f3", "f4", "pii"],
            "reported_at": ["2024-03-05 10:00"] * 5 + ["1700-01-01"],
            "grid_id": ["G1"] * 6,
            "channel": ["app", "fax", "fax", "fax", "fax", "app"],
            "title": ["噪音", "=1+1", "+cmd|' /C calc'!A0", "\tx", "＝HYPERLINK(1)", f"身份证{ID_NUMBER}"],
            "text": [
                TEXT,
                '=HYPERLINK("http://evil.example","点我")',
                "@SUM(1+1)*cmd|' /C calc'!A0",
                "-2+3",
                "\r=1",
                f"我的电话{MOBILE}，身份证号{ID_NUMBER}",
            ],
            "category_l1": ["矛盾纠纷"] * 6,
            "category_l2": ["邻里纠纷"] * 6,
            "category_l3": ["噪音扰邻纠纷"] * 6,
            "lon": ["120", "-181", "-181", "-181", "-181", "120"],
            "lat": ["30"] * 6,
            # a carried-over raw column, named like a formula
            "=note": ["", "", "", "", "", f"回电 {MOBILE}"],
        }
    )
    return validate_events(frame, taxonomy)


@pytest.mark.parametrize("raw", [False, True], ids=["redacted", "raw"])
def test_reject_csv_is_formula_escaped(tmp_path: Path, taxonomy: Taxonomy, raw: bool):
    path = _rejects_load(tmp_path, taxonomy).write_rejects(tmp_path / "rejects.csv", raw=raw)
    back = pl.read_csv(path, infer_schema=False)
    by_id = {row["event_id"]: row for row in back.iter_rows(named=True)}
    assert by_id["f1"]["text"] == '\'=HYPERLINK("http://evil.example","点我")'
    assert by_id["f1"]["title"] == "'=1+1"
    assert by_id["f2"]["text"].startswith("'@SUM(") and by_id["f2"]["title"].startswith("'+cmd")
    assert by_id["f3"]["text"] == "'-2+3" and by_id["f4"]["title"] == "'＝HYPERLINK(1)"
    if raw:  # redaction may already scrub control characters; the raw file must escape them itself
        assert by_id["f3"]["title"] == "'\tx" and by_id["f4"]["text"] == "'\r=1"
    assert by_id["f1"]["lon"] == "-181"  # a plain number cannot be a formula: left as it is
    assert "'=note" in back.columns
    for column in back.columns:
        for value in [column, *back[column].drop_nulls().to_list()]:
            assert value.lstrip(" ")[:1] not in set("=+-@\t\r＝＋－＠") or _is_number(value), (column, value)


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def test_reject_files_are_private_from_creation(tmp_path: Path, taxonomy: Taxonomy):
    load = _rejects_load(tmp_path, taxonomy)
    existing = tmp_path / "rejects.csv"
    existing.write_text("old")
    os.chmod(existing, 0o644)  # an older, world-readable reject file is replaced, not reused
    for path in (existing, tmp_path / "new" / "rejects.csv", tmp_path / "rejects.parquet"):
        written = load.write_rejects(path)
        assert stat.S_IMODE(written.stat().st_mode) == 0o600, path
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")) == []


def test_reject_files_are_redacted_unless_raw_is_asked_for(tmp_path: Path, taxonomy: Taxonomy):
    load = _rejects_load(tmp_path, taxonomy)
    for path in (tmp_path / "rejects.csv", tmp_path / "rejects.parquet"):
        written = load.write_rejects(path)
        content = written.read_bytes() if path.suffix == ".csv" else str(pl.read_parquet(written).rows())
        content = content.decode() if isinstance(content, bytes) else content
        assert MOBILE not in content and ID_NUMBER not in content, path
        assert "<PHONE>" in content and "<ID>" in content
    raw = load.write_rejects(tmp_path / "raw.csv", raw=True).read_text()
    assert MOBILE in raw and ID_NUMBER in raw
    assert load.rejects.filter(pl.col("event_id") == "pii")["text"][0].endswith(ID_NUMBER)  # in memory: raw

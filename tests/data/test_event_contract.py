"""The event-log contract: schema, validating loader, reject path (CSV, CSV.gz, Parquet, frames)."""

from __future__ import annotations

import gzip
from datetime import datetime
from pathlib import Path
from textwrap import dedent

import polars as pl
import pytest

from features.date_window import DateWindow
from features.events import EventLoad, load_events, validate_events
from features.schema import EVENT_SCHEMA, SchemaError, required_columns
from features.taxonomy import Taxonomy, load_taxonomy

TAXONOMY_YAML = """
    name: test
    version: "1"
    categories:
      - name: 矛盾纠纷
        risk_group: dispute
        department: 综治中心
        children:
          - name: 邻里纠纷
            department: 社区居委会
            children:
              - name: 噪音扰邻纠纷
              - name: 漏水渗水纠纷
                department: 物业服务企业
      - name: 安全隐患
        risk_group: hazard
        department: 应急管理局
        children:
          - name: 消防安全
            children:
              - name: 消防通道堵塞
      - name: 咨询
        department: 12345热线
"""

FLAT7_YAML = """
    name: flat7
    version: "1"
    categories:
""" + "".join(
    f"      - {{name: {name}, department: 部门{i}}}\n"
    for i, name in enumerate(
        ["城乡建设", "劳动和社会保障", "教育文体", "商贸旅游", "环境保护", "卫生计生", "交通运输"]
    )
)

COLUMNS = [
    "event_id",
    "reported_at",
    "grid_id",
    "channel",
    "title",
    "text",
    "category_l1",
    "category_l2",
    "category_l3",
    "department",
    "status",
    "closed_at",
    "lat",
    "lon",
]
GOOD = {
    "event_id": "E1",
    "reported_at": "2024-03-05 14:20:00",
    "grid_id": "G001",
    "channel": "hotline",
    "title": "噪音",
    "text": "楼上半夜装修，噪音很大",
    "category_l1": "矛盾纠纷",
    "category_l2": "邻里纠纷",
    "category_l3": "噪音扰邻纠纷",
    "department": "",
    "status": "closed",
    "closed_at": "2024-03-06 09:00:00",
    "lat": "30.27",
    "lon": "120.15",
}


@pytest.fixture(scope="module")
def taxonomy(tmp_path_factory: pytest.TempPathFactory) -> Taxonomy:
    return _taxonomy(tmp_path_factory.mktemp("taxonomy"), TAXONOMY_YAML)


def _taxonomy(directory: Path, text: str) -> Taxonomy:
    path = directory / "taxonomy.yaml"
    path.write_text(dedent(text), encoding="utf-8")
    return load_taxonomy(path)


def row(**changes: str) -> dict[str, str]:
    return {**GOOD, **changes}


def write_csv(path: Path, rows: list[dict[str, str]], columns: list[str] = COLUMNS) -> Path:
    pl.DataFrame([[r.get(c, "") for c in columns] for r in rows], schema=columns, orient="row").write_csv(
        path
    )
    return path


def reasons_of(load: EventLoad) -> list[set[str]]:
    return [set(reason.split("; ")) for reason in load.rejects["reject_reason"]]


def assert_complete(load: EventLoad, rows_read: int) -> None:
    assert load.events.height + load.rejects.height == rows_read == load.counts["rows_read"]
    assert load.counts["events"] == load.events.height and load.counts["rejects"] == load.rejects.height


# ---- schema ------------------------------------------------------------------------------------------
def test_schema_required_columns() -> None:
    assert required_columns(False) == ("event_id", "reported_at", "grid_id")
    assert required_columns(True)[-1] == "category_l1"


# ---- valid rows --------------------------------------------------------------------------------------
def test_valid_csv_is_typed_and_labelled(tmp_path: Path, taxonomy: Taxonomy) -> None:
    rows = [
        row(),
        row(event_id="E2", category_l3="漏水渗水纠纷", lat="", lon="", closed_at="", status=""),
        row(
            event_id="E3",
            channel=" APP ",
            department="街道办",
            category_l1="咨询",
            category_l2="",
            category_l3="",
        ),
    ]
    load = load_events(write_csv(tmp_path / "events.csv", rows), taxonomy)
    assert load.rejects.is_empty()
    assert_complete(load, 3)
    events = load.events
    assert dict(events.schema) == EVENT_SCHEMA
    assert events["reported_at"][0] == datetime(2024, 3, 5, 14, 20)
    assert events["lat"].to_list() == [30.27, None, 30.27]
    assert events["leaf_id"].to_list() == [
        "矛盾纠纷/邻里纠纷/噪音扰邻纠纷",
        "矛盾纠纷/邻里纠纷/漏水渗水纠纷",
        "咨询",
    ]
    assert events["risk_group"].to_list() == ["dispute", "dispute", "none"]
    # department: filled from the taxonomy (incl. a leaf override), a given value is kept
    assert events["department"].to_list() == ["社区居委会", "物业服务企业", "街道办"]
    assert events["channel"][2] == "app"
    # a shallow path is completed the way the taxonomy completes it
    assert events.row(2, named=True)["category_l2"] == events.row(2, named=True)["category_l3"] == "咨询"
    assert load.counts["labelled"] == 3


@pytest.mark.parametrize(
    "spelling",
    [
        "2024-03-05T14:20:00",
        "2024-03-05 14:20",
        "2024-03-05T14:20",
        "2024/03/05 14:20",
        "2024/3/5 14:20:00",
        "2024年3月5日 14:20",
        "2024-03-05 14:20:00.000",
    ],
)
def test_datetime_spellings(tmp_path: Path, taxonomy: Taxonomy, spelling: str) -> None:
    load = load_events(write_csv(tmp_path / "e.csv", [row(reported_at=spelling, closed_at="")]), taxonomy)
    assert load.rejects.is_empty()
    assert load.events["reported_at"][0] == datetime(2024, 3, 5, 14, 20)


def test_bare_date_means_midnight(tmp_path: Path, taxonomy: Taxonomy) -> None:
    load = load_events(write_csv(tmp_path / "e.csv", [row(reported_at="2024-03-05", closed_at="")]), taxonomy)
    assert load.events["reported_at"][0] == datetime(2024, 3, 5)


# ---- the reject path -----------------------------------------------------------------------------------
BAD_ROWS = [
    (row(event_id=""), "missing event_id"),
    (row(reported_at=""), "missing reported_at"),
    (row(grid_id="  "), "missing grid_id"),
    (row(reported_at="昨天下午"), "unparseable reported_at"),
    (row(reported_at="2024-02-30 10:00"), "unparseable reported_at"),
    (row(reported_at="2024-03-05T14:20:00+08:00"), "unparseable reported_at"),  # naive local time only
    (row(closed_at="not a date"), "unparseable closed_at"),
    (row(closed_at="2024-03-01 00:00"), "closed_at before reported_at"),
    (row(channel="wechat"), "unknown channel"),
    (row(status="done"), "unknown status"),
    (row(category_l3="不存在的类别"), "unknown category path"),
    (row(category_l1="", category_l2="邻里纠纷"), "unknown category path"),
    (row(category_l2="", category_l3=""), "unknown category path"),  # L1 alone is not a leaf here
    (row(category_l1="", category_l2="", category_l3=""), "missing label"),
    (row(lat="abc"), "unparseable lat"),
    (row(lon="120,15"), "unparseable lon"),
    (row(lat="nan"), "unparseable lat"),
    (row(lat="95"), "lat out of range"),
    (row(lon="-181"), "lon out of range"),
    (row(lon=""), "lat/lon incomplete"),
    (row(text=""), "empty text"),
    (row(text=" \u3000\u200b "), "empty text"),
    (row(text="报修\ufffd\ufffd"), "invalid characters (U+FFFD)"),
]


@pytest.mark.parametrize(("bad", "reason"), BAD_ROWS, ids=[reason for _, reason in BAD_ROWS])
def test_each_kind_of_bad_row_is_rejected_with_its_reason(
    tmp_path: Path, taxonomy: Taxonomy, bad: dict[str, str], reason: str
) -> None:
    load = load_events(write_csv(tmp_path / "e.csv", [row(event_id="OK"), {**bad}]), taxonomy)
    assert load.events["event_id"].to_list() == ["OK"]
    assert reasons_of(load) == [{reason}]
    assert load.rejects["source_row"].to_list() == [2]
    assert load.counts["reasons"] == {reason: 1}


def test_all_reasons_of_a_row_are_reported(tmp_path: Path, taxonomy: Taxonomy) -> None:
    bad = row(channel="fax", status="?", lat="999", lon="x", text="", category_l3="无")
    load = load_events(write_csv(tmp_path / "e.csv", [bad]), taxonomy)
    assert reasons_of(load) == [
        {
            "unknown channel",
            "unknown status",
            "lat out of range",
            "unparseable lon",
            "empty text",
            "unknown category path",
        }
    ]


def test_rejects_keep_the_original_strings(tmp_path: Path, taxonomy: Taxonomy) -> None:
    bad = row(event_id=" E9 ", lat="三十度", reported_at="2024/13/01")
    load = load_events(write_csv(tmp_path / "e.csv", [row(), bad]), taxonomy)
    reject = load.rejects.row(0, named=True)
    assert (
        reject["event_id"] == " E9 " and reject["lat"] == "三十度" and reject["reported_at"] == "2024/13/01"
    )
    assert all(dtype == pl.String for name, dtype in load.rejects.schema.items() if name != "source_row")
    assert load.rejects.columns[:2] == ["source_row", "reject_reason"]


def test_duplicate_ids_keep_the_first(tmp_path: Path, taxonomy: Taxonomy) -> None:
    rows = [
        row(event_id="A", text="一"),
        row(event_id="B"),
        row(event_id="A", text="二"),
        row(event_id=" A "),
    ]
    load = load_events(write_csv(tmp_path / "e.csv", rows), taxonomy)
    assert load.events["event_id"].to_list() == ["A", "B"]
    assert load.events["text"][0] == "一"
    assert load.rejects["source_row"].to_list() == [3, 4]
    assert reasons_of(load) == [{"duplicate event_id"}, {"duplicate event_id"}]


def test_garbage_file_does_not_crash_and_loses_no_row(tmp_path: Path, taxonomy: Taxonomy) -> None:
    header = ",".join(COLUMNS)
    good = ",".join(GOOD[c] for c in COLUMNS)
    lines = [
        header,
        good,
        # words for numbers and dates
        "G1,明天,G1,hotline,,文本,矛盾纠纷,邻里纠纷,噪音扰邻纠纷,,,,三十,一百二十",
        "G2,2024-03-05 10:00,G1,hotline,,😀👍🏽\u202e\u0000ﷺ,矛盾纠纷,邻里纠纷,噪音扰邻纠纷,,,,1e999,-1e999",
        "G3,2024-03-05 10:00,G1,hotline,,too many,矛盾纠纷,邻里纠纷,噪音扰邻纠纷,,,,,,surplus,fields",
        "G4,2024-03-05 10:00",  # too few fields: the missing ones are empty
        "",  # a blank line is a row with nothing in it
        'G5,2024-03-05 10:00,G1,app,,"quoted, with comma\nand newline",矛盾纠纷,邻里纠纷,噪音扰邻纠纷,,,,,',
    ]
    path = tmp_path / "garbage.csv"
    path.write_bytes(
        "\n".join(lines).encode() + b"\nG6,2024-03-05 10:00,G1,app,,bad bytes \xff\xfe,,,,,,,,\n"
    )
    load = load_events(path, taxonomy)
    assert_complete(load, 8)
    assert load.events["event_id"].to_list() == ["E1", "G5"]
    assert load.events["text"][1] == "quoted, with comma\nand newline"
    by_id = dict(zip(load.rejects["event_id"], reasons_of(load), strict=True))
    assert {"unparseable reported_at", "unparseable lat", "unparseable lon"} <= by_id["G1"]
    assert {"unparseable lat", "unparseable lon"} == by_id["G2"]  # infinities are not coordinates
    assert by_id["G3"] == {"too many fields"}
    assert {"missing grid_id", "empty text", "missing label"} <= by_id["G4"]
    assert "invalid characters (U+FFFD)" in by_id["G6"]
    assert {"missing event_id", "missing reported_at"} <= by_id[None]


def test_missing_required_column_is_a_file_error(tmp_path: Path, taxonomy: Taxonomy) -> None:
    path = write_csv(tmp_path / "e.csv", [row()], [c for c in COLUMNS if c != "grid_id"])
    with pytest.raises(SchemaError, match="grid_id"):
        load_events(path, taxonomy)


def test_channel_and_text_are_optional(tmp_path: Path, taxonomy: Taxonomy) -> None:
    """A log without channel and text columns (a crime log) loads; channel is 'unknown', text null."""
    columns = [c for c in COLUMNS if c not in ("channel", "text")]
    load = load_events(write_csv(tmp_path / "e.csv", [row(), row(event_id="E2")], columns), taxonomy)
    assert load.rejects.is_empty()
    assert load.events["channel"].to_list() == ["unknown", "unknown"]
    assert load.events["text"].null_count() == 2
    # an empty channel value is 'unknown' too; an empty text in a present text column is still rejected
    load = load_events(
        write_csv(tmp_path / "f.csv", [row(channel=""), row(event_id="E2", text="")]), taxonomy
    )
    assert load.events["channel"].to_list() == ["unknown"]
    assert reasons_of(load) == [{"empty text"}]


def test_labels_required_only_for_labelled_logs(tmp_path: Path, taxonomy: Taxonomy) -> None:
    columns = [c for c in COLUMNS if not c.startswith("category_")]
    path = write_csv(tmp_path / "incoming.csv", [row()], columns)
    with pytest.raises(SchemaError, match="category_l1"):
        load_events(path, taxonomy)
    load = load_events(path, taxonomy, require_labels=False)
    assert load.events.height == 1 and load.events["leaf_id"][0] is None
    assert load.events["risk_group"][0] is None and load.counts["labelled"] == 0


def test_unlabelled_log_still_checks_given_labels(tmp_path: Path, taxonomy: Taxonomy) -> None:
    rows = [row(category_l1="", category_l2="", category_l3=""), row(event_id="E2", category_l1="不存在")]
    load = load_events(write_csv(tmp_path / "e.csv", rows), taxonomy, require_labels=False)
    assert load.events["event_id"].to_list() == ["E1"]
    assert reasons_of(load) == [{"unknown category path"}]


def test_optional_columns_may_be_absent(tmp_path: Path, taxonomy: Taxonomy) -> None:
    minimal = [*required_columns(True), "category_l2", "category_l3"]
    load = load_events(write_csv(tmp_path / "e.csv", [row()], minimal), taxonomy)
    assert load.rejects.is_empty()
    assert dict(load.events.schema) == EVENT_SCHEMA
    assert load.events["department"][0] == "社区居委会"


def test_header_spelling_is_forgiven_and_extra_columns_kept(tmp_path: Path, taxonomy: Taxonomy) -> None:
    frame = pl.DataFrame([row()]).rename({"event_id": " Event_ID ", "text": "TEXT"})
    frame = frame.with_columns(pl.lit("x").alias("source_system"), pl.lit("stale").alias("leaf_id"))
    load = validate_events(frame, taxonomy)
    assert load.events["event_id"].to_list() == ["E1"]
    assert load.events["source_system"].to_list() == ["x"]
    assert (
        load.events["leaf_id"][0] == "矛盾纠纷/邻里纠纷/噪音扰邻纠纷"
    )  # recomputed, not taken from the file


# ---- file formats --------------------------------------------------------------------------------------
def test_parquet_with_native_types_matches_csv(tmp_path: Path, taxonomy: Taxonomy) -> None:
    rows = [row(), row(event_id="E2", lat="95"), row(event_id="E3", closed_at="", lat="", lon="")]
    from_csv = load_events(write_csv(tmp_path / "e.csv", rows), taxonomy)
    typed = pl.DataFrame(rows).with_columns(
        pl.col("reported_at", "closed_at").replace("", None).str.to_datetime("%Y-%m-%d %H:%M:%S"),
        pl.col("lat", "lon").replace("", None).cast(pl.Float64),
    )
    typed.write_parquet(tmp_path / "e.parquet")
    from_parquet = load_events(tmp_path / "e.parquet", taxonomy)
    assert from_parquet.events.equals(from_csv.events)
    assert reasons_of(from_parquet) == reasons_of(from_csv) == [{"lat out of range"}]
    assert from_parquet.rejects["lat"][0] == "95.0"  # the value as the file stored it


def test_gzipped_csv(tmp_path: Path, taxonomy: Taxonomy) -> None:
    plain = write_csv(tmp_path / "e.csv", [row(), row(event_id="E2", channel="x")])
    compressed = tmp_path / "e.csv.gz"
    compressed.write_bytes(gzip.compress(plain.read_bytes()))
    load = load_events(compressed, taxonomy)
    assert load.events["event_id"].to_list() == ["E1"] and reasons_of(load) == [{"unknown channel"}]


def test_gbk_file_with_explicit_encoding(tmp_path: Path, taxonomy: Taxonomy) -> None:
    path = tmp_path / "gbk.csv"
    pl.DataFrame([row()]).write_csv(path)
    path.write_bytes(path.read_text("utf-8").encode("gbk"))
    assert load_events(path, taxonomy, encoding="gbk").events["text"][0] == GOOD["text"]
    mangled = load_events(path, taxonomy, encoding="utf-8")  # wrong encoding: rejected, not crashed
    assert mangled.events.is_empty() and mangled.rejects.height == 1
    assert "invalid characters (U+FFFD)" in reasons_of(mangled)[0]


def test_unsupported_suffix_and_empty_file(tmp_path: Path, taxonomy: Taxonomy) -> None:
    with pytest.raises(SchemaError, match="unsupported"):
        load_events(tmp_path / "events.xlsx", taxonomy)
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(SchemaError, match="empty"):
        load_events(tmp_path / "empty.csv", taxonomy)
    (tmp_path / "header.csv").write_text(",".join(COLUMNS) + "\n")
    load = load_events(tmp_path / "header.csv", taxonomy)
    assert load.events.is_empty() and dict(load.events.schema) == EVENT_SCHEMA


def test_write_rejects_round_trip(tmp_path: Path, taxonomy: Taxonomy) -> None:
    load = load_events(write_csv(tmp_path / "e.csv", [row(), row(event_id="E2", channel="传真")]), taxonomy)
    written = load.write_rejects(tmp_path / "out" / "rejects.csv")
    back = pl.read_csv(written, infer_schema=False)
    assert back["source_row"].to_list() == ["2"] and back["reject_reason"].to_list() == ["unknown channel"]
    fixed = back.with_columns(pl.lit("app").alias("channel"))  # an operator fixes the file and reloads it
    assert validate_events(fixed, taxonomy).events["event_id"].to_list() == ["E2"]
    assert pl.read_parquet(load.write_rejects(tmp_path / "rejects.parquet")).height == 1


# ---- flat taxonomy ---------------------------------------------------------------------------------------
def test_flat_taxonomy_with_empty_lower_levels(tmp_path: Path) -> None:
    flat = _taxonomy(tmp_path, FLAT7_YAML)
    assert flat.depth == 1 and len(flat.leaves) == 7
    rows = [
        row(category_l1="环境保护", category_l2="", category_l3=""),
        row(event_id="E2", category_l1="交通运输", category_l2="交通运输", category_l3=""),
        row(event_id="E3", category_l1="环境保护", category_l2="噪音", category_l3=""),
    ]
    load = load_events(write_csv(tmp_path / "e.csv", rows), flat)
    assert load.events["leaf_id"].to_list() == ["环境保护", "交通运输"]
    assert load.events["category_l3"].to_list() == ["环境保护", "交通运输"]
    assert load.events["department"].to_list() == ["部门4", "部门6"]
    assert reasons_of(load) == [{"unknown category path"}]


def test_reports_dated_after_the_cutoff_are_rejected(tmp_path: Path, taxonomy: Taxonomy) -> None:
    rows = [
        row(event_id="on-time", reported_at="2024-03-05 23:59", closed_at=""),
        row(event_id="late", reported_at="2031-03-05", closed_at=""),
    ]
    path = write_csv(tmp_path / "e.csv", rows)
    assert load_events(path, taxonomy, window=DateWindow.unbounded()).events.height == 2

    load = load_events(path, taxonomy, window=DateWindow(None, datetime(2024, 3, 6)))

    assert load.events["event_id"].to_list() == ["on-time"]
    assert reasons_of(load) == [{"reported_at after 2024-03-06 00:00"}]

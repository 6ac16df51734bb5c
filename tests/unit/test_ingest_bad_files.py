"""Ingest adapters and bad files: the date window, encodings, and one-line user errors."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from core.errors import DataFileError
from features.date_window import DateWindow
from features.ingest import chicago, ingest, load_adapter_config, sweden

CHICAGO_HEADER = "Date,Primary Type,Latitude,Longitude,Description"
CHICAGO_ROW = "01/04/2016 10:00:00 PM,BATTERY,41.6045,-87.9490,{}"


def chicago_frame(*dates: str) -> pl.DataFrame:
    n = len(dates)
    return pl.DataFrame(
        {
            "Date": list(dates),
            "Primary Type": ["BATTERY"] * n,
            "Latitude": ["41.6045"] * n,
            "Longitude": ["-87.9490"] * n,
        }
    )


def test_chicago_rejects_dates_outside_the_window():
    frame = chicago_frame("01/04/2016 10:00:00 PM", "01/04/1700 10:00:00 PM", "01/04/2999 10:00:00 PM")
    log = chicago.from_frame(load_adapter_config("chicago"), frame)
    assert log.events.height == 1
    assert log.rejects["time before 2000-01-01"] == 1
    assert sum(n for reason, n in log.rejects.items() if reason.startswith("time after ")) == 1
    wide = chicago.from_frame(load_adapter_config("chicago"), frame, DateWindow(datetime(1600, 1, 1), None))
    assert wide.events.height == 3 and wide.rejects == {}


def test_sweden_rejects_dates_outside_the_window():
    config = load_adapter_config("sweden")
    areas = pl.DataFrame({"municipality_name": ["Stockholm"], "county_name": ["Stockholms län"]})
    raw = pl.DataFrame(
        {
            "id": [1, 2],
            "datetime_local": [datetime(2025, 3, 3, 12), datetime(1700, 3, 3, 12)],
            "type": ["Bråk", "Bråk"],
            "location_name": ["Stockholm", "Stockholm"],
            "lat": [59.3, 59.3],
            "lon": [18.0, 18.0],
        }
    )
    log = sweden.from_frames(config, raw, areas)
    assert log.events.height == 1 and log.rejects == {"time before 2000-01-01": 1}
    with pytest.raises(DataFileError, match="areas file lacks column"):
        sweden.from_frames(config, raw, areas.drop("county_name"))


def test_adapter_columns_missing_from_the_file_are_a_user_error():
    with pytest.raises(DataFileError, match=r"lacks column\(s\) \['Latitude'\]"):
        chicago.from_frame(load_adapter_config("chicago"), chicago_frame("01/04/2016").drop("Latitude"))


def test_gbk_chicago_csv_is_detected(tmp_path: Path):
    path = tmp_path / "crimes.csv"
    path.write_bytes(f"{CHICAGO_HEADER}\n{CHICAGO_ROW.format('楼道里打架')}\n".encode("gbk"))
    log = ingest("chicago", path)
    assert log.events.height == 1
    assert ingest("chicago", path, encoding="utf-8").events.height == 1  # wrong encoding: mangled, not lost


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("empty.csv", b"", "is empty"),
        ("dup.csv", f"{CHICAGO_HEADER},Date\n".encode(), "repeats column name"),
        ("broken.parquet", b"nope", "not a readable Parquet file"),
        ("events.xlsx", b"", "unsupported event file"),
        ("absent.csv", None, "does not exist"),
    ],
)
def test_bad_event_files_are_user_errors(tmp_path: Path, name: str, content: bytes | None, match: str):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DataFileError, match=match) as caught:
        ingest("chicago", path)
    assert "\n" not in caught.value.one_line()


def test_bad_adapter_configs_are_user_errors(tmp_path: Path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n", encoding="utf-8")
    with pytest.raises(DataFileError, match="not valid YAML"):
        load_adapter_config(broken)
    listed = tmp_path / "list.yaml"
    listed.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(DataFileError, match="not a mapping"):
        load_adapter_config(listed)

"""Reading whole input files (Parquet tables, CSV or Parquet logs) with one-line errors for the user.

Every user-caused failure (missing file, unreadable file, empty file, missing or duplicate columns)
is a :class:`core.errors.DataFileError`, which the CLI prints as one line.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from core.errors import DataFileError, require_file
from features.encodings import AUTO, decode_to_utf8

_DUPLICATE_SUFFIX = re.compile(r"_duplicated_\d+$")  # how polars renames a repeated CSV column


def read_parquet(path: str | Path, what: str, required: Sequence[str] = ()) -> pl.DataFrame:
    """The Parquet file at ``path`` (``what`` names it in errors, e.g. "grid table"), with ``required``
    columns checked."""
    path = require_file(path, what)
    try:
        frame = pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError) as error:
        raise DataFileError(
            f"{what} {path} is not a readable Parquet file: {first_line(error)}",
            "regenerate it or pass the right file",
        ) from None
    require_columns(frame, required, f"{what} {path}")
    return frame


def read_csv_text(path: str | Path, what: str, encoding: str = AUTO) -> pl.DataFrame:
    """A CSV file (also .csv.gz) with every column as text, decoded by ``features.encodings``; empty
    files and repeated column names are refused."""
    path = require_file(path, what)
    data = path.read_bytes()
    try:
        data = gzip.decompress(data) if path.name.lower().endswith(".gz") else data
    except (OSError, EOFError) as error:
        raise DataFileError(f"{what} {path} is not a readable gzip file: {error}", "re-compress it") from None
    utf8 = decode_to_utf8(data, encoding)[1]
    try:
        frame = pl.read_csv(utf8, infer_schema=False)
    except pl.exceptions.NoDataError:
        raise DataFileError(f"{what} {path} is empty", "it needs a header row") from None
    except (pl.exceptions.PolarsError, OSError) as error:
        raise DataFileError(
            f"{what} {path} is not a readable CSV file: {first_line(error)}", "check its quoting"
        ) from None
    repeated = [name for name in frame.columns if _DUPLICATE_SUFFIX.search(name)]
    if repeated:
        raise DataFileError(f"{what} {path} repeats column name(s) {repeated}", "rename the repeated columns")
    return frame


def require_columns(frame: pl.DataFrame, required: Sequence[str], where: str) -> None:
    missing = [name for name in required if name not in frame.columns]
    if missing:
        raise DataFileError(
            f"{where} lacks column(s) {missing}", f"it has {frame.columns[:20]}; add or rename the columns"
        )


def first_line(error: BaseException) -> str:
    """The first line of a library's error message (polars' run to a dozen lines)."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__

"""Files written for people to open (reject files, exports): formula-escaped CSV, created private.

Formula escaping follows OWASP's CSV-injection guidance: a cell that starts with ``= + - @``, a tab or a
carriage return (or the full-width ``＝ ＋ － ＠``, which spreadsheets in CJK locales fold to ASCII),
after optional spaces, gets a leading ``'`` so that a spreadsheet shows it as text instead of running
it. Plain numbers (``-12.5``) are left alone: they cannot be formulas. Column names are escaped too.

Private files are created with mode 0600 from the start (a temporary file in the same folder, then
renamed over the target), never made readable to others and tightened afterwards.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import polars as pl

FORMULA_PREFIXES = "=+-@\t\r＝＋－＠"
_RISKY = f"^[ ]*[{re.escape(FORMULA_PREFIXES)}]"
_PLAIN_NUMBER = r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"


def escape_formula(value: str) -> str:
    """One cell, escaped as :func:`escape_formulas_expr` escapes a column."""
    if re.match(_RISKY, value) and not re.match(_PLAIN_NUMBER, value):
        return "'" + value
    return value


def escape_formulas_expr(column: str | pl.Expr) -> pl.Expr:
    expr = pl.col(column) if isinstance(column, str) else column
    risky = expr.str.contains(_RISKY) & ~expr.str.contains(_PLAIN_NUMBER)
    return pl.when(risky).then(pl.lit("'") + expr).otherwise(expr)


def escape_formulas(frame: pl.DataFrame) -> pl.DataFrame:
    """Every text column and every column name escaped."""
    escaped = frame.with_columns(
        escape_formulas_expr(name).alias(name) for name, dtype in frame.schema.items() if dtype == pl.String
    )
    return escaped.rename({name: escape_formula(name) for name in frame.columns})


def write_csv_for_people(frame: pl.DataFrame, path: str | Path, *, private: bool = True) -> Path:
    """``frame`` as a formula-escaped CSV (mode 0600 when ``private``)."""
    safe = escape_formulas(frame)
    if private:
        return write_private(path, safe.write_csv)
    path = Path(path)
    safe.write_csv(path)
    return path


def write_private(path: str | Path, write: Callable[[BinaryIO], object]) -> Path:
    """Create ``path`` with mode 0600 and fill it with ``write(file)``; replaces an existing file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as file:
            write(file)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path

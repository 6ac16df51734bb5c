"""Errors a user can fix: a bad input file or option, as opposed to a bug.

The CLI (``cli.app``) prints a :class:`GridSenseUserError` as one line, ``error: <message> (<hint>)``,
and exits with code 2, without a traceback. Raise it only for problems the user caused and can fix.
"""

from __future__ import annotations

from pathlib import Path


class GridSenseUserError(Exception):
    """A problem with the user's input, told in one line, with a hint on what to do about it."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        text = f"{self.message} ({self.hint})" if self.hint else self.message
        return " ".join(text.split())  # library messages may span lines; the user sees one


class DataFileError(GridSenseUserError, ValueError):
    """An input file as a whole cannot be used: missing, unreadable, empty, wrong or duplicate columns."""


class PanelSpanError(GridSenseUserError, ValueError):
    """The grid x week panel would span implausibly many weeks (usually a mistyped event date)."""


def require_file(path: str | Path, what: str) -> Path:
    """``path`` if it is a readable file, else a :class:`DataFileError` naming ``what`` it should be."""
    path = Path(path)
    if not path.exists():
        raise DataFileError(f"{what} {path} does not exist", "check the path")
    if not path.is_file():
        raise DataFileError(f"{what} {path} is not a file", "pass a file, not a folder")
    return path

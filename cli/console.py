"""The CLI's console and its progress display for long steps."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from rich.console import Console

console = Console()
T = TypeVar("T")


@contextmanager
def step(title: str):
    """Show a spinner while a long step runs, then how long it took."""
    started = time.perf_counter()
    with console.status(f"[bold]{title}[/] ..."):
        yield
    console.print(f"[green]✓[/] {title} [dim]({time.perf_counter() - started:.1f}s)[/]")


def timed(title: str, fn: Callable[[], T]) -> T:
    with step(title):
        return fn()


def print_result(result: dict, out: Path | None = None) -> None:
    """A benchmark's result as one JSON line on stdout, and indented in `out` when given."""
    print(json.dumps(result, ensure_ascii=False))
    if out is not None:
        out.write_text(json.dumps(result, indent=1), encoding="utf-8")

"""`gridsense audit`: check that nobody rewrote the audit log (`core.audit` hash chain)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.console import console
from core.audit import CHAIN_START_ACTION, AuditLog, cli_actor, find_hash, verify_chain
from core.errors import require_file
from core.settings import Settings

BROKEN_EXIT_CODE = 1
UNCHAINED_EXIT_CODE = 3

app = typer.Typer(help="The tamper-evident audit log: verify its hash chain.", no_args_is_help=True)
PathOption = Annotated[
    Path | None, typer.Option("--path", help="Audit log (default: GRIDSENSE_AUDIT_LOG_PATH).")
]


@app.command()
def verify(
    path: PathOption = None,
    expect: Annotated[
        str | None,
        typer.Option(help="A head hash noted earlier: fail unless the chain still holds that record."),
    ] = None,
) -> None:
    """Walk the hash chain; name the first record edited, removed or reordered (exit code 1), or say
    that the log has no chain yet (exit code 3). With --expect, records cut off the end or a log
    rewritten with fresh hashes are caught too."""
    path = require_file(path or Settings().audit_log_path, "audit log")
    report = verify_chain(path)
    if report.torn_lines:
        console.print(f"[yellow]lines torn by a crash (skipped): {report.torn_lines}[/]")
    if report.problem is not None:
        console.print(
            f"[bold red]audit log {path} was tampered with:[/] {report.problem.message}", soft_wrap=True
        )
        raise typer.Exit(BROKEN_EXIT_CODE)
    if report.unchained:
        console.print(
            f"[yellow]audit log {path} holds {report.legacy_records} records written before hash chaining: "
            "they cannot be verified.[/] Start a chain with `gridsense audit start-chain` (it seals them as "
            "they are now; every later record is chained).",
            soft_wrap=True,
        )
        raise typer.Exit(UNCHAINED_EXIT_CODE)
    if expect is not None and report.ok and find_hash(path, expect) is None:
        console.print(
            f"[bold red]audit log {path} was tampered with:[/] the record with hash {expect} noted earlier "
            "is gone: records were cut off its end, or the log was rewritten with fresh hashes",
            soft_wrap=True,
        )
        raise typer.Exit(BROKEN_EXIT_CODE)
    sealed = f", {report.legacy_records} older unchained records sealed" if report.legacy_records else ""
    console.print(
        f"[green]audit log {path} intact:[/] {report.chained_records} chained records{sealed}; "
        f"head seq {report.head_seq} hash {report.head_hash} (note it elsewhere to detect a cut-off end)",
        soft_wrap=True,
    )


@app.command("start-chain")
def start_chain(path: PathOption = None) -> None:
    """Seal an old unchained log: append a chain-start record; every later record is chained."""
    path = path or Settings().audit_log_path
    report = verify_chain(path)
    if report.chained_records:
        console.print(
            f"audit log {path} is already chained ({report.chained_records} records); nothing to do"
        )
        return
    entry = AuditLog(path).record(CHAIN_START_ACTION, cli_actor(), sealed_records=report.legacy_records)
    console.print(f"chain started at seq {entry['seq']}, sealing {report.legacy_records} older records")

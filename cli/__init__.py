"""The `gridsense` command line: every job as a thin Typer command over library code. Nothing imports it."""

"""Benchmarks run by `gridsense benchmark ...` (each module exposes a typer-compatible `command`)."""

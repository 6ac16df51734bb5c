"""The engines the batch jobs run on: ``polars`` (one machine, the default) or ``spark`` (a cluster).

Both engines run the *same* feature, validation and model code (``features``, ``models``, ``batch``): the
Spark engine distributes it (by shards of grids, by partitions of the log) rather than re-stating it in
Spark SQL, so the two give the same answers by construction and ``tests/spark`` checks that they do.
See docs/ARCHITECTURE.md (Engines) and docs/SPARK.md. PySpark is an optional extra (``.[spark]``) and is
only imported by the ``engines.spark_*`` modules, lazily.
"""

from __future__ import annotations

from typing import Literal

Engine = Literal["polars", "spark"]
ENGINES: tuple[str, ...] = ("polars", "spark")


def resolve_engine(option: str | None = None) -> str:
    """The --engine option, else GRIDSENSE_ENGINE; a user error for an unknown name, and for ``spark``
    when PySpark or Java is missing (one line saying what to install)."""
    from core.errors import GridSenseUserError
    from core.settings import Settings

    name = (option or Settings().engine).strip().lower()
    if name not in ENGINES:
        raise GridSenseUserError(f"unknown engine {name!r}", f"use one of {', '.join(ENGINES)}")
    if name == "spark":
        from engines.spark_session import require_spark

        require_spark()
    return name

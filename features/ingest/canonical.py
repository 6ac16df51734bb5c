"""An ingested log as GridSense's own files: the canonical event log, the grid table, a taxonomy.

* ``events.parquet``: the event-log contract (``features.schema``): ``event_id, reported_at, grid_id,
  channel, title, text, category_l1..l3, lat, lon``. A log without texts has no ``text`` column (the
  contract then accepts null texts); a row without a channel gets ``unknown``. Rows the adapter placed
  only in a parent area (no grid) are rejected here, so accepted + rejected = rows read still holds.
* ``grids.parquet``: ``grid_id, x_m, y_m`` (metres; what ``build-features`` and the dashboard's map
  need), ``district`` (the parent area; absent when there is none), ``lat, lon`` (centroid, when
  known), then static attributes.
* ``taxonomy.yaml`` (adapters with a ``risk_groups`` mapping): every category path of the accepted
  events as a leaf, with its risk group, for ``validate-events`` / ``build-features --taxonomy``; its
  ``risk_groups:`` block declares the config's groups (ids and ``group_labels``).
* ``rejects.csv``: every rejected row with its reasons (``features.events.EventLoad.write_rejects``:
  mode 0600, PII-redacted, formula-escaped).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl
import yaml

from features.events import EventLoad
from features.ingest.core import IngestedLog
from features.schema import UNKNOWN_CHANNEL
from features.taxonomy import ID_SEPARATOR

UNASSIGNED_DEPARTMENT = "unassigned"
NO_GRID = "no grid: the area names a parent area only"
# a taxonomy name must not hold the leaf-id separator "/": "Fylleri/LOB" becomes "Fylleri／LOB"
ID_SEPARATOR_STAND_IN = "\uff0f"
LEVELS = ("category_l1", "category_l2", "category_l3")


@dataclass(frozen=True)
class IngestOutput:
    rows_read: int
    accepted: int
    rejected: int
    reasons: dict[str, int]
    paths: dict[str, Path]


def canonical_events(log: IngestedLog) -> pl.DataFrame:
    """The accepted events in the event-log contract's columns (rows with a grid only)."""
    events = log.events.filter(pl.col("unit_id").is_not_null())
    columns = [
        pl.col("event_id"),
        pl.col("reported_at"),
        pl.col("unit_id").alias("grid_id"),
        pl.col("channel").fill_null(UNKNOWN_CHANNEL),
        pl.col("title"),
        pl.col("text"),
        *(_category_name(name).alias(out) for name, out in zip(_LOG_LEVELS, LEVELS, strict=True)),
        pl.col("lat"),
        pl.col("lon"),
    ]
    canonical = events.select(columns)
    if canonical["text"].null_count() == canonical.height:
        canonical = canonical.drop("text")  # no texts: the contract's optional text column is absent
    return canonical


_LOG_LEVELS = ("category", "category_l2", "category_l3")


def _category_name(column: str) -> pl.Expr:
    return pl.col(column).str.replace_all(ID_SEPARATOR, ID_SEPARATOR_STAND_IN, literal=True)


def grid_table(log: IngestedLog) -> pl.DataFrame:
    """The units as the grid table of ``build-features`` and the dashboard."""
    grids = log.units.rename({"unit_id": "grid_id", "parent_area": "district"})
    if grids["district"].null_count() == grids.height:
        grids = grids.drop("district")  # no parent areas (the panel then has no parent signals)
    return grids


def taxonomy_dict(log: IngestedLog) -> dict | None:
    """A taxonomy whose leaves are the accepted events' category paths (None for taxonomy adapters)."""
    if log.config.uses_taxonomy:
        return None
    paths = (
        log.events.filter(pl.col("unit_id").is_not_null())
        .select(*(_category_name(name) for name in _LOG_LEVELS), "risk_group")
        .group_by(*_LOG_LEVELS)
        .agg(pl.col("risk_group").filter(pl.col("risk_group") != "none").mode().first())
        .sort(*_LOG_LEVELS, nulls_last=False)
    )
    tree: dict[str, dict] = {}
    for l1, l2, l3, group in paths.iter_rows():
        node = tree.setdefault(l1, {})
        for name in (l2, l3):
            if name is None:
                break
            node = node.setdefault(name, {})
        node.setdefault("__group__", group or "none")
    return {
        "name": log.config.name,
        "version": "1",
        "risk_groups": [group.to_dict() for group in log.config.group_specs()],
        "categories": [_node(name, children) for name, children in tree.items()],
    }


def _node(name: str, children: dict) -> dict:
    node: dict = {"name": name, "department": UNASSIGNED_DEPARTMENT}
    kids = {key: value for key, value in children.items() if key != "__group__"}
    if kids:
        node["children"] = [_node(key, value) for key, value in kids.items()]
        # an inner node that is also a leaf in the data keeps its events through its own child
        if "__group__" in children:
            node["children"].append(_node(name, {"__group__": children["__group__"]}))
    else:
        node["risk_group"] = children.get("__group__", "none")
    return node


def rejected_rows(log: IngestedLog) -> pl.DataFrame:
    """The adapter's rejected rows plus the accepted rows that have no grid."""
    rejected = log.rejected
    if rejected is None:
        rejected = pl.DataFrame(schema={"source_row": pl.Int64, "reject_reason": pl.String})
    orphans = log.events.filter(pl.col("unit_id").is_null())
    if orphans.is_empty():
        return rejected
    extra = orphans.select(
        pl.lit(None, pl.Int64).alias("source_row"),
        pl.lit(NO_GRID).alias("reject_reason"),
        *(pl.col(name).cast(pl.String) for name in ("event_id", "reported_at", "category", "parent_area")),
    )
    return pl.concat([rejected, extra], how="diagonal_relaxed")


def write_ingested(log: IngestedLog, out_dir: str | Path, *, raw_rejects: bool = False) -> IngestOutput:
    """Write events.parquet, grids.parquet, taxonomy.yaml (when derived) and rejects.csv into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    events, rejects = canonical_events(log), rejected_rows(log)
    paths = {"events": out / "events.parquet", "grids": out / "grids.parquet"}
    events.write_parquet(paths["events"])
    grid_table(log).write_parquet(paths["grids"])
    taxonomy = taxonomy_dict(log)
    if taxonomy is not None:
        paths["taxonomy"] = out / "taxonomy.yaml"
        text = yaml.safe_dump(taxonomy, allow_unicode=True, sort_keys=False)
        paths["taxonomy"].write_text(text, encoding="utf-8")
    paths["rejects"] = EventLoad(events, rejects).write_rejects(out / "rejects.csv", raw=raw_rejects)
    reasons = dict(log.rejects)
    if log.events["unit_id"].null_count():
        reasons[NO_GRID] = log.events["unit_id"].null_count()
    rows_read = events.height + rejects.height
    if log.rows_read is not None and rows_read != log.rows_read:
        raise AssertionError(f"rows lost: {log.rows_read} read, {events.height} + {rejects.height} written")
    return IngestOutput(rows_read, events.height, rejects.height, reasons, paths)

"""Turn a city's category tree (CSV) into a GridSense taxonomy YAML, and check a log against a taxonomy.

The CSV has one row per leaf and one column per level (1 to 3), named in Chinese (一级分类/二级分类/三级分类)
or English (level1/level2/level3, l1/l2/l3, category_l1/...). A row may stop early (``A,,`` is a leaf at
level one); a row that is a prefix of a longer one only confirms the inner node; repeated rows count once.

The optional mapping (YAML) says who handles what and which paths carry risk::

    name: tipdm                       # taxonomy name (default: the CSV's file name)
    version: "1"
    default_department: 市民服务中心   # leaves that no path below maps
    default_risk_group: none
    departments:                      # path (level 1, 2 or 3, names joined by '/') -> department
      城乡建设: 住建局
      城乡建设/安全生产: 应急管理局
    risk_groups:                      # path -> risk group (any id the site chooses; 'none' = no risk)
      城乡建设/安全生产: hazard
    group_labels:                     # optional: display names of the groups (default: the id;
      hazard: {zh: 安全隐患, en: Safety hazards}   # dispute and hazard have their defaults)

The deepest mapped path wins. The written taxonomy declares every group a leaf uses, in the order the
mapping names them (``group_labels`` first, then ``risk_groups``, then the default), under
``risk_groups:``; a tree mapped to no group declares none (``risk_groups: []``). A mapped path the tree
does not have is an error (a typo would otherwise map nothing). The result is validated by
``features.taxonomy.load_taxonomy`` before it is written.
"""

from __future__ import annotations

import difflib
import re
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from core.atomic_files import atomic_write_bytes
from core.errors import DataFileError, require_file
from features.encodings import AUTO
from features.events import read_raw_events
from features.files import read_csv_text
from features.schema import LABEL_COLUMNS
from features.taxonomy import (
    ID_SEPARATOR,
    LANGUAGES,
    NO_RISK,
    RiskGroupSpec,
    Taxonomy,
    TaxonomyError,
    check_group_id,
    default_group,
    load_taxonomy,
)

MAPPING_KEYS = frozenset(
    {
        "name",
        "version",
        "default_department",
        "default_risk_group",
        "departments",
        "risk_groups",
        "group_labels",
    }
)
DEFAULT_DEPARTMENT = "unassigned"
DEFAULT_RISK_GROUP = NO_RISK
LABEL_COLUMN = "label"
_CHINESE_LEVELS = {"一": 1, "二": 2, "三": 3, "1": 1, "2": 2, "3": 3}
_LEVEL_HEADER = re.compile(
    r"^(?:(?:category[ _-]?)?(?:level|lvl|l)[ _-]?([123])|([一二三123])级(?:分类|类别|类目)?)$"
)

Path3 = tuple[str, ...]


@dataclass
class TreeImport:
    """The imported tree: the YAML document, and what the import did with the rows."""

    document: dict[str, Any]
    rows_read: int
    leaves: int
    duplicate_rows: int = 0
    prefix_rows: int = 0
    default_department_leaves: int = 0
    risk_group_leaves: dict[str, int] = field(default_factory=dict)

    def to_yaml(self) -> str:
        header = "# Imported by `gridsense taxonomy import`; edit the mapping file and import again.\n"
        return header + yaml.safe_dump(self.document, allow_unicode=True, sort_keys=False, width=120)


@dataclass(frozen=True)
class TaxonomyMapping:
    name: str | None = None
    version: str = "1"
    default_department: str = DEFAULT_DEPARTMENT
    default_risk_group: str = DEFAULT_RISK_GROUP
    departments: dict[Path3, str] = field(default_factory=dict)
    risk_groups: dict[Path3, str] = field(default_factory=dict)
    group_labels: dict[str, RiskGroupSpec] = field(default_factory=dict)

    def declared_groups(self, used: set[str]) -> list[RiskGroupSpec]:
        """The groups the leaves use (``none`` aside), in the order the mapping names them, with labels."""
        named = [*self.group_labels, *self.risk_groups.values(), self.default_risk_group]
        ordered = [group for group in dict.fromkeys(named) if group in used and group != NO_RISK]
        return [self.group_labels.get(group) or default_group(group) for group in ordered]


# ---- import -------------------------------------------------------------------------------------------
def import_taxonomy(
    tree_csv: str | Path, mapping: str | Path | None = None, encoding: str = AUTO
) -> TreeImport:
    """Read the tree CSV and the mapping; the taxonomy document and the import's counts."""
    frame = read_csv_text(tree_csv, "taxonomy tree", encoding)
    rows = _tree_rows(frame, Path(tree_csv))
    spec = read_mapping(mapping) if mapping else TaxonomyMapping()
    paths, duplicates, prefixes = _leaf_paths(rows)
    _check_mapped_paths(spec, paths, Path(mapping) if mapping else None)
    leaves = [(path, _deepest(spec.departments, path), _deepest(spec.risk_groups, path)) for path in paths]
    groups = Counter(group or spec.default_risk_group for _, _, group in leaves)
    document = {
        "name": spec.name or Path(tree_csv).name.split(".")[0],
        "version": spec.version,
        "risk_groups": [group.to_dict() for group in spec.declared_groups(set(groups))],
        "categories": _nodes(leaves, (), spec),
    }
    return TreeImport(
        document=document,
        rows_read=frame.height,
        leaves=len(paths),
        duplicate_rows=duplicates,
        prefix_rows=prefixes,
        default_department_leaves=sum(1 for _, department, _ in leaves if department is None),
        risk_group_leaves=dict(groups.most_common()),
    )


def write_taxonomy(result: TreeImport, out: str | Path) -> Taxonomy:
    """Validate the document with the loader GridSense uses, then write it (one step, mode 0644)."""
    out = Path(out)
    text = result.to_yaml()
    with tempfile.TemporaryDirectory() as scratch:
        probe = Path(scratch) / out.name
        probe.write_text(text, encoding="utf-8")
        try:
            taxonomy = load_taxonomy(probe)
        except TaxonomyError as error:
            raise TaxonomyError(
                error.message.replace(str(probe), f"imported taxonomy {out}"), "fix the tree or the mapping"
            ) from None
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, text.encode("utf-8"), mode=0o644)
    return taxonomy


def _level_of(header: str) -> int | None:
    match = _LEVEL_HEADER.match(header.strip().lstrip("\ufeff").strip().lower())
    if not match:
        return None
    return _CHINESE_LEVELS[match.group(1) or match.group(2)]


def _tree_rows(frame: pl.DataFrame, source: Path) -> list[Path3]:
    levels = [(_level_of(column), column) for column in frame.columns]
    by_level = {level: column for level, column in levels if level}
    found = sorted(level for level, _ in levels if level)
    if not found or found != list(range(1, len(found) + 1)):
        raise DataFileError(
            f"taxonomy tree {source}: no level columns 1..n in {frame.columns[:10]}",
            "name them 一级分类,二级分类,三级分类 or level1,level2,level3 (one to three levels)",
        )
    cells = frame.select(pl.col(by_level[level]).str.strip_chars().replace("", None) for level in found)
    return [_row_path(row, number, source) for number, row in enumerate(cells.iter_rows(), start=2)]


def _row_path(row: tuple[str | None, ...], line: int, source: Path) -> Path3:
    filled = [value is not None for value in row]
    depth = sum(filled)
    if filled[:depth] != [True] * depth:
        raise DataFileError(
            f"taxonomy tree {source}, line {line}: a level is empty above a filled one: {row}"
        )
    path = tuple(value for value in row if value is not None)
    bad = [name for name in path if ID_SEPARATOR in name]
    if bad:
        raise DataFileError(
            f"taxonomy tree {source}, line {line}: category name(s) {bad} contain {ID_SEPARATOR!r}",
            f"replace {ID_SEPARATOR!r} in the tree (and in the event log) with another character",
        )
    return path


def _leaf_paths(rows: list[Path3]) -> tuple[list[Path3], int, int]:
    """Distinct non-empty rows in file order, without rows that only name an inner node."""
    distinct = [path for path in dict.fromkeys(rows) if path]
    inner = {path[:depth] for path in distinct for depth in range(1, len(path))}
    leaves = [path for path in distinct if path not in inner]
    duplicates = sum(1 for path in rows if path) - len(distinct)
    return leaves, duplicates, len(distinct) - len(leaves)


def _deepest(mapped: dict[Path3, str], path: Path3) -> str | None:
    for depth in range(len(path), 0, -1):
        if path[:depth] in mapped:
            return mapped[path[:depth]]
    return None


def _nodes(
    leaves: list[tuple[Path3, str | None, str | None]], here: Path3, spec: TaxonomyMapping
) -> list[dict]:
    """The YAML nodes under ``here``; each level-1 node states department and risk group (inherited below),
    deeper nodes only where the mapping overrides."""
    nodes: list[dict] = []
    depth = len(here)
    for name in dict.fromkeys(path[depth] for path, _, _ in leaves if path[:depth] == here):
        path = (*here, name)
        node: dict[str, Any] = {"name": name}
        department = spec.departments.get(path, spec.default_department if depth == 0 else None)
        risk_group = spec.risk_groups.get(path, spec.default_risk_group if depth == 0 else None)
        if department is not None:
            node["department"] = department
        if risk_group is not None:
            node["risk_group"] = risk_group
        below = [leaf for leaf in leaves if leaf[0][: depth + 1] == path and len(leaf[0]) > depth + 1]
        if below:
            node["children"] = _nodes(below, path, spec)
        nodes.append(node)
    return nodes


# ---- mapping ------------------------------------------------------------------------------------------
def read_mapping(path: str | Path) -> TaxonomyMapping:
    path = require_file(path, "taxonomy mapping")
    try:
        data = yaml.safe_load(path.read_text("utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise DataFileError(
            f"taxonomy mapping {path} is not valid UTF-8 YAML: {error}", "fix the YAML"
        ) from None
    if not isinstance(data, dict):
        raise DataFileError(
            f"taxonomy mapping {path}: expected a mapping of keys", f"keys: {sorted(MAPPING_KEYS)}"
        )
    unknown = sorted(set(data) - MAPPING_KEYS)
    if unknown:
        raise DataFileError(
            f"taxonomy mapping {path}: unknown key(s) {unknown}", f"allowed: {sorted(MAPPING_KEYS)}"
        )
    return TaxonomyMapping(
        name=_scalar(data.get("name")) or None,
        version=_scalar(data.get("version")) or "1",
        default_department=_scalar(data.get("default_department")) or DEFAULT_DEPARTMENT,
        default_risk_group=_scalar(data.get("default_risk_group")) or DEFAULT_RISK_GROUP,
        departments=_path_map(data.get("departments"), "departments", path),
        risk_groups=_group_map(data, path),
        group_labels=_group_labels(data.get("group_labels"), path),
    )


def _group_map(data: dict, source: Path) -> dict[Path3, str]:
    """``risk_groups`` (path -> group id); every id, the default's included, must be usable as a group."""
    mapped = _path_map(data.get("risk_groups"), "risk_groups", source)
    default = _scalar(data.get("default_risk_group")) or DEFAULT_RISK_GROUP
    for group in dict.fromkeys([default, *mapped.values()]):
        problem = check_group_id(group) if group != NO_RISK else None
        if problem:
            raise DataFileError(f"taxonomy mapping {source}: {problem}", "rename the group in the mapping")
    return mapped


def _group_labels(value: Any, source: Path) -> dict[str, RiskGroupSpec]:
    """``group_labels``: group id -> {zh, en} (or one name for both languages)."""
    if value is None:
        return {}
    example = "e.g. group_labels: {theft: {zh: 盗窃, en: Theft}}"
    if not isinstance(value, dict):
        raise DataFileError(f"taxonomy mapping {source}: group_labels must map group ids to names", example)
    labels = {}
    for group, names in value.items():
        if isinstance(names, str):
            names = dict.fromkeys(LANGUAGES, names)
        if not isinstance(names, dict) or set(names) - set(LANGUAGES):
            raise DataFileError(
                f"taxonomy mapping {source}: group_labels of {group!r} must map {list(LANGUAGES)} to names",
                example,
            )
        problem = check_group_id(str(group))
        if problem:
            raise DataFileError(f"taxonomy mapping {source}: {problem}", "rename the group in the mapping")
        labels[str(group)] = RiskGroupSpec(str(group), _scalar(names.get("zh")), _scalar(names.get("en")))
    return labels


def _scalar(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _path_map(value: Any, key: str, source: Path) -> dict[Path3, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(_scalar(v) for v in value.values()):
        raise DataFileError(
            f"taxonomy mapping {source}: {key} must map paths to names",
            f"e.g. {key}: {{城乡建设/安全生产: ...}}",
        )
    return {tuple(part.strip() for part in str(k).split(ID_SEPARATOR)): _scalar(v) for k, v in value.items()}


def _check_mapped_paths(spec: TaxonomyMapping, leaves: list[Path3], source: Path | None) -> None:
    known = {path[:depth] for path in leaves for depth in range(1, len(path) + 1)}
    for key, mapped in (("departments", spec.departments), ("risk_groups", spec.risk_groups)):
        missing = [ID_SEPARATOR.join(path) for path in mapped if path not in known]
        if missing:
            hint = closest(missing[0], [ID_SEPARATOR.join(path) for path in known])
            raise DataFileError(
                f"taxonomy mapping {source}: {key} name(s) paths the tree does not have: {missing[:5]}",
                f"closest known path to {missing[0]!r}: {hint!r}" if hint else "check the spelling",
            )


# ---- check a log --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MissingPath:
    path: str
    count: int
    suggestion: str | None
    leaves_below: int  # > 0: the path names an inner node of the taxonomy (the log is less detailed)


@dataclass(frozen=True)
class TaxonomyCheck:
    rows: int
    rows_with_path: int
    known_paths: int
    missing: list[MissingPath]

    @property
    def missing_rows(self) -> int:
        return sum(item.count for item in self.missing)


def log_paths(path: str | Path, encoding: str = AUTO) -> pl.DataFrame:
    """``path`` (the distinct names, '/'-joined) and ``count`` of a log's category paths, most common first.
    Reads ``category_l1[/l2/l3]`` columns, else a labelled CSV's ``label`` column (a leaf id or a path)."""
    raw = read_raw_events(path, encoding)
    if LABEL_COLUMNS[0] in raw.columns:
        levels = [
            pl.col(name).str.strip_chars().replace("", None) for name in LABEL_COLUMNS if name in raw.columns
        ]
        keys = raw.select(pl.concat_list(levels).list.drop_nulls().list.join(ID_SEPARATOR).alias("path"))
    elif LABEL_COLUMN in raw.columns:
        keys = raw.select(pl.col(LABEL_COLUMN).str.strip_chars().alias("path"))
    else:
        raise DataFileError(
            f"log {path} has neither category_l1 nor label columns",
            f"it has {raw.columns[:20]}; pass an event log or a labelled CSV",
        )
    keys = keys.with_columns(pl.col("path").replace("", None))
    return keys.group_by("path").len("count").sort(["count", "path"], descending=[True, False])


def check_log(taxonomy: Taxonomy, path: str | Path, encoding: str = AUTO) -> TaxonomyCheck:
    counts = log_paths(path, encoding)
    with_path = counts.filter(pl.col("path").is_not_null())
    below = Counter(
        _prefix(leaf.id, depth) for leaf in taxonomy.leaves for depth in (1, 2) if _depth(leaf.id) > depth
    )
    missing = [
        MissingPath(name, count, closest(name, taxonomy.leaf_ids), below[name])
        for name, count in with_path.iter_rows()
        if _find(taxonomy, name) is None
    ]
    return TaxonomyCheck(
        rows=int(counts["count"].sum()),
        rows_with_path=int(with_path["count"].sum()),
        known_paths=with_path.height - len(missing),
        missing=missing,
    )


def _depth(leaf_id: str) -> int:
    return len(leaf_id.split(ID_SEPARATOR))


def _prefix(leaf_id: str, depth: int) -> str:
    return ID_SEPARATOR.join(leaf_id.split(ID_SEPARATOR)[:depth])


def _find(taxonomy: Taxonomy, path: str):
    """The leaf a log's path or label names: a leaf id, or a path whose missing levels repeat the last."""
    if path in taxonomy.leaf_ids:
        return taxonomy.leaf(path)
    parts = [part.strip() for part in path.split(ID_SEPARATOR)]
    if len(parts) > 3 or not all(parts):
        return None
    return taxonomy.find(*parts)


def closest(name: str, known: list[str], cutoff: float = 0.4) -> str | None:
    """The known path most like ``name`` (difflib), compared whole and by last names (so a path whose
    upper levels are spelled otherwise still finds its leaf); None when nothing is alike."""
    by_last = {}
    for path in known:
        by_last.setdefault(_last(path), path)
    candidates = [
        (path, difflib.SequenceMatcher(None, query, target).ratio())
        for query, pool, pick in ((name, known, None), (_last(name), list(by_last), by_last))
        for target in difflib.get_close_matches(query, pool, n=1, cutoff=cutoff)
        for path in [pick[target] if pick else target]
    ]
    return max(candidates, key=lambda item: item[1])[0] if candidates else None


def _last(path: str) -> str:
    return path.rsplit(ID_SEPARATOR, 1)[-1]


__all__ = [
    "TaxonomyError",
    "TreeImport",
    "TaxonomyCheck",
    "MissingPath",
    "import_taxonomy",
    "write_taxonomy",
    "read_mapping",
    "check_log",
    "log_paths",
    "closest",
]

"""GridSense event taxonomy: a data file (YAML) plus this loader.

A taxonomy is a tree of up to three levels. Every leaf names the department that
handles it and a risk group: one of the groups the file declares under ``risk_groups:``
(a list of ``{id, labels: {zh, en}}``; absent = ``dispute`` and ``hazard``), or ``none``.
``department`` and ``risk_group`` may be set on an inner node and are inherited by its children.

Shallower trees are allowed (a flat 7-class taxonomy is just seven leaves at level
one): missing levels repeat the deepest name, so every leaf always has L1/L2/L3.
The classifier predicts ``Leaf.id``; L1, L2, department and risk group follow.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from core.errors import DataFileError

RiskGroup = str  # a group id the taxonomy declares, or NO_RISK
NO_RISK = "none"
LANGUAGES: tuple[str, ...] = ("zh", "en")
DEFAULT_TAXONOMY = "gridsense_v1.yaml"
ID_SEPARATOR = "/"
NODE_KEYS = frozenset({"name", "department", "risk_group", "children", "description"})
TOP_KEYS = frozenset({"name", "version", "description", "risk_groups", "categories"})
# A group id is a column fragment (panel columns n_<id>, y_<id>, cnt_<id>_4w ...): lower-case ASCII; words
# the panel's own column names use are reserved.
GROUP_ID_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,31}")
RESERVED_GROUP_IDS = frozenset(
    {
        NO_RISK,
        "all",
        "events",
        "l1",
        "txt",
        "co",
        "cnt",
        "nbr",
        "nbrw",
        "ewm",
        "excite",
        "mean",
        "season",
        "parent",
    }
)


class TaxonomyError(DataFileError):
    """The taxonomy file is missing or malformed (a user error: the CLI prints it as one line)."""


@dataclass(frozen=True)
class RiskGroupSpec:
    """A risk group the site forecasts: its id (in leaves, panels and forecasts) and its display names."""

    id: str
    zh: str = ""
    en: str = ""

    def label(self, language: str = "zh") -> str:
        """The name in ``language`` (zh | en), else the other language's, else the id."""
        other = "en" if language == "zh" else "zh"
        return getattr(self, language, "") or getattr(self, other, "") or self.id

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "labels": {lang: getattr(self, lang) for lang in LANGUAGES if getattr(self, lang)},
        }


DEFAULT_RISK_GROUPS: tuple[RiskGroupSpec, ...] = (
    RiskGroupSpec("dispute", zh="矛盾纠纷", en="Disputes"),
    RiskGroupSpec("hazard", zh="安全隐患", en="Safety hazards"),
)
# The default groups and ``none``: what a taxonomy without a ``risk_groups:`` block allows.
RISK_GROUPS: tuple[str, ...] = (*(group.id for group in DEFAULT_RISK_GROUPS), NO_RISK)


def default_group(group_id: str) -> RiskGroupSpec:
    """The spec of a group id: the default's labels for dispute/hazard, else the id as its label."""
    return next((group for group in DEFAULT_RISK_GROUPS if group.id == group_id), RiskGroupSpec(group_id))


def check_group_id(group_id: str) -> str | None:
    """Why ``group_id`` cannot name a risk group, or None when it can."""
    if not GROUP_ID_PATTERN.fullmatch(group_id):
        return (
            f"risk group id {group_id!r} must be lower-case ASCII letters, digits and _ (start with a letter)"
        )
    if group_id in RESERVED_GROUP_IDS:
        return f"risk group id {group_id!r} is reserved (reserved: {sorted(RESERVED_GROUP_IDS)})"
    return None


@dataclass(frozen=True)
class Leaf:
    l1: str
    l2: str
    l3: str
    department: str
    risk_group: RiskGroup

    @property
    def id(self) -> str:
        """Stable label: the distinct names along the path, joined by '/'."""
        parts: list[str] = []
        for name in (self.l1, self.l2, self.l3):
            if not parts or parts[-1] != name:
                parts.append(name)
        return ID_SEPARATOR.join(parts)


@dataclass(frozen=True)
class Taxonomy:
    name: str
    version: str
    leaves: tuple[Leaf, ...]
    groups: tuple[RiskGroupSpec, ...] = DEFAULT_RISK_GROUPS  # the declared risk groups, in order

    def __post_init__(self) -> None:
        if not self.leaves:
            raise TaxonomyError("taxonomy has no leaves")
        duplicates = sorted(i for i, n in Counter(leaf.id for leaf in self.leaves).items() if n > 1)
        if duplicates:
            raise TaxonomyError(f"duplicate leaves: {duplicates}")
        _check_groups(self.groups)
        allowed = (*self.risk_groups, NO_RISK)
        bad_groups = sorted({leaf.id for leaf in self.leaves if leaf.risk_group not in allowed})
        if bad_groups:
            raise TaxonomyError(
                f"leaves with a risk_group not in {list(allowed)}: {bad_groups[:5]}",
                "declare the group under risk_groups: or correct the leaf",
            )

    # ---- risk groups ----------------------------------------------------------------------
    @property
    def risk_groups(self) -> tuple[str, ...]:
        """The declared risk group ids, in order (``none`` excluded)."""
        return tuple(group.id for group in self.groups)

    def group_labels(self, language: str = "zh") -> dict[str, str]:
        """Group id -> its display name in ``language`` (zh | en)."""
        return {group.id: group.label(language) for group in self.groups}

    # ---- look-ups -------------------------------------------------------------------
    @property
    def leaf_ids(self) -> list[str]:
        return [leaf.id for leaf in self.leaves]

    @property
    def level1(self) -> list[str]:
        return list(dict.fromkeys(leaf.l1 for leaf in self.leaves))

    @property
    def depth(self) -> int:
        """Number of distinct levels actually used (1 for a flat taxonomy)."""
        return max(len(leaf.id.split(ID_SEPARATOR)) for leaf in self.leaves)

    def leaf(self, leaf_id: str) -> Leaf:
        try:
            return self._by_id[leaf_id]
        except KeyError:
            raise KeyError(f"unknown leaf {leaf_id!r} in taxonomy {self.name} {self.version}") from None

    def find(self, l1: str, l2: str | None = None, l3: str | None = None) -> Leaf | None:
        """The leaf at a (possibly partial, flat-style) path, or None if there is none."""
        l2 = l2 or l1
        l3 = l3 or l2
        return self._by_path.get((l1, l2, l3))

    @cached_property
    def _by_id(self) -> dict[str, Leaf]:
        return {leaf.id: leaf for leaf in self.leaves}

    @cached_property
    def _by_path(self) -> dict[tuple[str, str, str], Leaf]:
        return {(leaf.l1, leaf.l2, leaf.l3): leaf for leaf in self.leaves}

    @cached_property
    def fingerprint(self) -> str:
        payload = json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True).encode()
        return hashlib.sha256(payload).hexdigest()[:12]

    def to_records(self) -> list[dict[str, str]]:
        """One row per leaf: id, category_l1..l3, department, risk_group."""
        return [
            {
                "leaf_id": leaf.id,
                "category_l1": leaf.l1,
                "category_l2": leaf.l2,
                "category_l3": leaf.l3,
                "department": leaf.department,
                "risk_group": leaf.risk_group,
            }
            for leaf in self.leaves
        ]

    # ---- (de)serialisation: models carry their taxonomy with them ----------------------
    def to_dict(self) -> dict[str, Any]:
        """Name, version, leaves and, when they are not the defaults, the risk groups (so a taxonomy
        without a ``risk_groups:`` block keeps the fingerprint it had before groups were declarable)."""
        data: dict[str, Any] = {
            "name": self.name,
            "version": self.version,
            "leaves": [asdict(leaf) for leaf in self.leaves],
        }
        if self.groups != DEFAULT_RISK_GROUPS:
            data["risk_groups"] = [group.to_dict() for group in self.groups]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Taxonomy:
        leaves = tuple(Leaf(**leaf) for leaf in data["leaves"])
        groups = (
            _group_specs(data["risk_groups"], "taxonomy") if "risk_groups" in data else DEFAULT_RISK_GROUPS
        )
        return cls(name=data["name"], version=str(data["version"]), leaves=leaves, groups=groups)


def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    """Load a taxonomy YAML file; with no path, GridSense's bundled default."""
    if path is None:
        text = resources.files("features.taxonomies").joinpath(DEFAULT_TAXONOMY).read_text("utf-8")
        source = DEFAULT_TAXONOMY
    else:
        source = str(path)
        try:
            text = Path(path).read_text("utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise TaxonomyError(f"taxonomy {source} is unreadable: {error}", "check the path") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise TaxonomyError(f"taxonomy {source} is not valid YAML: {error}", "fix the YAML") from None
    if not isinstance(data, dict) or "categories" not in data:
        raise TaxonomyError(f"{source}: expected a mapping with a 'categories' list")
    unknown = sorted(str(key) for key in set(data) - TOP_KEYS)
    if unknown:
        raise TaxonomyError(f"{source}: unknown top-level keys {unknown} (allowed: {sorted(TOP_KEYS)})")
    groups = _group_specs(data["risk_groups"], source) if "risk_groups" in data else DEFAULT_RISK_GROUPS
    ids = tuple(group.id for group in groups)
    leaves = tuple(_walk(data["categories"], path=(), inherited={}, source=source, groups=ids))
    name = _text(data.get("name")) or Path(source).stem
    try:
        return Taxonomy(name=name, version=_text(data.get("version")) or "0", leaves=leaves, groups=groups)
    except TaxonomyError as error:
        raise TaxonomyError(f"{source}: {error.message}", error.hint) from None


def _group_specs(value: Any, source: str) -> tuple[RiskGroupSpec, ...]:
    """The ``risk_groups:`` block: a list of ``{id, labels: {zh, en}}`` (a bare id is allowed too)."""
    example = "e.g. risk_groups: [{id: theft, labels: {zh: 盗窃, en: Theft}}]"
    if value is None:
        value = []
    if not isinstance(value, list):
        raise TaxonomyError(f"{source}: risk_groups must be a list of {{id, labels}}", example)
    specs = []
    for item in value:
        if isinstance(item, str):
            item = {"id": item}
        if not isinstance(item, dict) or not _text(item.get("id")) or set(item) - {"id", "labels"}:
            raise TaxonomyError(f"{source}: risk_groups entry {item!r} is not {{id, labels}}", example)
        labels = item.get("labels") or {}
        if not isinstance(labels, dict) or set(labels) - set(LANGUAGES):
            raise TaxonomyError(
                f"{source}: risk group {item['id']!r} labels must map {list(LANGUAGES)} to names", example
            )
        group_id = _text(item["id"])
        fallback = default_group(group_id) if not labels else RiskGroupSpec(group_id)
        specs.append(
            RiskGroupSpec(
                group_id,
                zh=_text(labels.get("zh")) or fallback.zh,
                en=_text(labels.get("en")) or fallback.en,
            )
        )
    groups = tuple(specs)
    try:
        _check_groups(groups)
    except TaxonomyError as error:
        raise TaxonomyError(f"{source}: {error.message}", error.hint) from None
    return groups


def _check_groups(groups: tuple[RiskGroupSpec, ...]) -> None:
    for group in groups:
        problem = check_group_id(group.id)
        if problem:
            raise TaxonomyError(problem, "rename it under risk_groups: (and in the leaves)")
    repeated = sorted(i for i, n in Counter(group.id for group in groups).items() if n > 1)
    if repeated:
        raise TaxonomyError(f"risk groups declared twice: {repeated}")


def _walk(
    nodes: Any, path: tuple[str, ...], inherited: dict[str, str], source: str, groups: tuple[str, ...]
) -> Iterator[Leaf]:
    if not isinstance(nodes, list) or not nodes:
        raise TaxonomyError(f"{source}: {'/'.join(path) or 'categories'} must be a non-empty list")
    for node in nodes:
        here = (*path, _node_name(node, path, source))
        unknown = sorted(set(node) - NODE_KEYS)
        if unknown:
            raise TaxonomyError(
                f"{source}: {'/'.join(here)} has unknown keys {unknown} (allowed: {sorted(NODE_KEYS)})"
            )
        attrs = {**inherited, **{k: _text(node[k]) for k in ("department", "risk_group") if k in node}}
        # An explicit but empty `children:` is a mistake, not a leaf: let _walk reject it.
        if "children" in node:
            if len(here) >= 3:
                raise TaxonomyError(f"{source}: {'/'.join(here)} has children, deeper than three levels")
            yield from _walk(node["children"], here, attrs, source, groups)
        else:
            yield _leaf(here, attrs, source, groups)


def _node_name(node: Any, path: tuple[str, ...], source: str) -> str:
    where = "/".join(path) or "root"
    name = _text(node.get("name")) if isinstance(node, dict) else ""
    if not name:
        raise TaxonomyError(f"{source}: every category under {where} needs a name (got {node!r})")
    if ID_SEPARATOR in name:
        raise TaxonomyError(
            f"{source}: category name {name!r} under {where} must not contain {ID_SEPARATOR!r}"
        )
    return name


def _text(value: Any) -> str:
    """A YAML scalar as stripped text; null (an empty `key:`) counts as missing."""
    return "" if value is None else str(value).strip()


def _leaf(path: tuple[str, ...], attrs: dict[str, str], source: str, groups: tuple[str, ...]) -> Leaf:
    where = "/".join(path)
    if not attrs.get("department"):
        raise TaxonomyError(f"{source}: leaf {where} has no department")
    risk_group = attrs.get("risk_group", NO_RISK)
    allowed = [*groups, NO_RISK]
    if risk_group not in allowed:
        raise TaxonomyError(
            f"{source}: leaf {where} has risk_group {risk_group!r}, not one of {allowed}",
            "declare the group under risk_groups: or correct the leaf",
        )
    full = list(path) + [path[-1]] * (3 - len(path))
    return Leaf(l1=full[0], l2=full[1], l3=full[2], department=attrs["department"], risk_group=risk_group)

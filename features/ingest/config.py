"""Adapter configs: how to read one event-log source into GridSense's normalised event frame.

A config is a YAML file (bundled ones live in ``features/ingest/configs``). Sections:

* ``source``: ``time_column`` (+ optional ``time_format``), ``category_column``, ``id_column`` (default:
  row number), ``text_columns`` (joined with "。" into ``text``), ``skip_category_prefixes``.
* ``place``: ``kind`` = ``unit`` (a unit/grid id column and a units file), ``latlon`` (square cells of
  ``cell_size_m`` metres from ``origin``, rows outside ``bbox`` rejected, parent = blocks of
  ``parent_cells`` x ``parent_cells`` cells), ``area`` (named areas at two levels, see the Sweden config),
  ``named`` (each value of a column is a grid) or ``grid_table`` (the city's own grids), see
  ``features.ingest.mapped`` for these two and for ``source.category_map`` / ``category_columns``,
  ``channel_column``, ``title_column``, ``timezone``.
* ``risk_groups``: ``{group: [category, ...]}`` (other categories: ``none``), or ``taxonomy``. Group ids
  are the site's own names (lower-case ASCII, ``features.taxonomy.check_group_id``): ``theft``, ``fire`` ...
* ``groups``: the risk groups to forecast (default: those mapped; with ``taxonomy``, the taxonomy's).
* ``group_labels``: ``{group: {zh: ..., en: ...}}`` (or one name), the groups' display names in the
  written taxonomy (default: the id; ``dispute`` and ``hazard`` have theirs).
* ``text_rules``: ``{category: regex}``; the first match on the text is the event's ``text_category``.
* ``calendar``, ``panel``, ``model``: defaults for the panel options and the forecaster.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from core.errors import DataFileError
from features.taxonomy import LANGUAGES, RiskGroupSpec, check_group_id, default_group

BUNDLED = ("gridsense", "chicago", "sweden")
TAXONOMY_GROUPS = "taxonomy"
PLACE_KINDS = ("unit", "latlon", "area", "named", "grid_table")


@dataclass(frozen=True)
class AdapterConfig:
    name: str
    source: dict[str, Any]
    place: dict[str, Any]
    risk_groups: dict[str, list[str]] | str
    groups: tuple[str, ...]  # empty for taxonomy adapters until loaded: then the taxonomy's
    text_rules: dict[str, str] = field(default_factory=dict)
    max_categories: int | None = None
    calendar: dict[str, Any] = field(default_factory=dict)
    panel: dict[str, Any] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    group_labels: dict[str, RiskGroupSpec] = field(default_factory=dict)

    @property
    def uses_taxonomy(self) -> bool:
        return self.risk_groups == TAXONOMY_GROUPS

    def category_groups(self) -> dict[str, str]:
        """Normalised category name -> risk group (see :func:`normalise_category`)."""
        if self.uses_taxonomy:
            return {}
        return {normalise_category(c): group for group, names in self.risk_groups.items() for c in names}

    def group_specs(self) -> list[RiskGroupSpec]:
        """The mapped groups (``none`` aside) in mapping order, with their display names."""
        if self.uses_taxonomy:
            return []
        return [self.group_labels.get(g) or default_group(g) for g in self.risk_groups if g != "none"]

    def with_cell_size(self, cell_size_m: float | None) -> AdapterConfig:
        if cell_size_m is None:
            return self
        if self.place.get("kind") != "latlon":
            raise DataFileError(
                f"adapter {self.name!r} has no cells", "--cell-size-m applies to lat/lon sources only"
            )
        return _replace(self, place={**self.place, "cell_size_m": float(cell_size_m)})


def normalise_category(name: str) -> str:
    """Lower-case, commas dropped, spaces collapsed: "Misshandel, grov" == "Misshandel grov"."""
    return re.sub(r"\s+", " ", name.replace(",", " ")).strip().lower()


def load_adapter_config(name_or_path: str | Path) -> AdapterConfig:
    """A bundled adapter by name (``gridsense``, ``chicago``, ``sweden``) or a YAML file."""
    path = Path(name_or_path)
    if str(name_or_path) in BUNDLED:
        text = resources.files("features.ingest.configs").joinpath(f"{name_or_path}.yaml").read_text("utf-8")
    elif path.is_file():
        text = _read_yaml_text(path)
    else:
        raise DataFileError(f"unknown adapter {name_or_path!r}", f"use one of {BUNDLED} or a YAML file")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise DataFileError(
            f"adapter config {name_or_path} is not valid YAML: {error}", "fix the YAML"
        ) from None
    return config_from_dict(data)


def _read_yaml_text(path: Path) -> str:
    try:
        return path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise DataFileError(
            f"adapter config {path} is unreadable: {error}", "save it as UTF-8 YAML"
        ) from None


def config_from_dict(data: dict[str, Any]) -> AdapterConfig:
    if not isinstance(data, dict):
        raise DataFileError("adapter config is not a mapping", "see features/ingest/configs/*.yaml")
    for section in ("name", "source", "place", "risk_groups"):
        if section not in data:
            raise DataFileError(f"adapter config lacks {section!r}", "see features/ingest/configs/*.yaml")
    if not isinstance(data["place"], dict) or data["place"].get("kind") not in PLACE_KINDS:
        raise DataFileError(f"adapter config: place.kind must be one of {', '.join(PLACE_KINDS)}")
    if data["place"]["kind"] == "named" and not data["place"].get("area_column"):
        raise DataFileError("adapter config: place.kind named needs place.area_column")
    risk_groups = data["risk_groups"]
    if risk_groups != TAXONOMY_GROUPS and not isinstance(risk_groups, dict):
        raise DataFileError("adapter config: risk_groups must map groups to category lists, or be 'taxonomy'")
    mapped = () if risk_groups == TAXONOMY_GROUPS else tuple(g for g in risk_groups if g != "none")
    groups = tuple(data.get("groups") or mapped)
    _check_groups(groups, mapped, risk_groups == TAXONOMY_GROUPS)
    return AdapterConfig(
        name=data["name"],
        description=data.get("description", ""),
        source=dict(data["source"]),
        place=dict(data["place"]),
        risk_groups=risk_groups,
        groups=groups,
        group_labels=_group_labels(data.get("group_labels")),
        text_rules=dict(data.get("text_rules") or {}),
        max_categories=data.get("max_categories"),
        calendar=dict(data.get("calendar") or {}),
        panel=dict(data.get("panel") or {}),
        model=dict(data.get("model") or {}),
    )


def _check_groups(groups: tuple[str, ...], mapped: tuple[str, ...], from_taxonomy: bool) -> None:
    for group in dict.fromkeys((*mapped, *groups)):
        problem = check_group_id(str(group))
        if problem:
            raise DataFileError(f"adapter config: {problem}", "rename the group under risk_groups")
    unmapped = [group for group in groups if group not in mapped]
    if unmapped and not from_taxonomy:
        raise DataFileError(
            f"adapter config: groups {unmapped} are not mapped under risk_groups", f"mapped: {list(mapped)}"
        )


def _group_labels(value: Any) -> dict[str, RiskGroupSpec]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise DataFileError(
            "adapter config: group_labels must map group ids to names", "{theft: {en: Theft}}"
        )
    labels = {}
    for group, names in value.items():
        names = dict.fromkeys(LANGUAGES, names) if isinstance(names, str) else names
        if not isinstance(names, dict) or set(names) - set(LANGUAGES):
            raise DataFileError(
                f"adapter config: group_labels of {group!r} must map {list(LANGUAGES)} to names",
                "{theft: {zh: 盗窃, en: Theft}}",
            )
        fallback = default_group(str(group))
        labels[str(group)] = RiskGroupSpec(
            str(group), str(names.get("zh") or fallback.zh), str(names.get("en") or fallback.en)
        )
    return labels


def _replace(config: AdapterConfig, **changes: Any) -> AdapterConfig:
    from dataclasses import replace

    return replace(config, **changes)

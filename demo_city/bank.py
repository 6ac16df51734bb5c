"""Report templates: read the YAML files, merge them per leaf, mark late templates, check them.

Template files
==============
``demo_city/templates/*.yaml`` (all files, read in file-name order, merged)::

    slots:                              # optional: vocabularies for every template in this file
      noise: [拖动桌椅, 跳绳, 打麻将]
    leaves:
      矛盾纠纷/邻里纠纷/噪音扰邻纠纷:      # key: a leaf id, or just the L3 name when that is unique
        titles:                         # 2-6 short operator titles (no need to repeat the leaf name)
          - 楼上噪音扰民
        templates:                      # 6-12 report bodies: what happened, no framing
          - "{neighbour}{time}[总是|老是]{noise}，吵得睡不着"
        sensor:                         # optional: alarm texts of IoT devices (sensor channel only)
          - "{estate}{building}噪声监测值超过55分贝"
        slots:                          # optional: vocabularies for this leaf only (override file slots)
          noise: [拖动桌椅, 大声放音乐]
    vague:                              # optional: deliberately unclear bodies, by L1 name or risk group
      矛盾纠纷: ["和邻居的事情一直解决不了"]

Syntax inside a template, title or slot value: ``{name}`` is a slot (``slots.SLOT_HELP``, the style
slots of ``styles.STYLE_SLOTS``, file and leaf ``slots``); ``[a|b|c]`` picks one alternative.

Every template has a stable id, ``<file stem>:<key>:<index>`` (titles ``...:title<index>``, sensor
alarms ``...:sensor<index>``, vague bodies ``<file stem>:vague/<key>:<index>``). Language drifts: per
leaf, a fixed quarter of the bodies, titles and alarms (chosen by a hash of their text, so it does not
depend on the seed or on the order of the files) are *late*: the engine uses them only from its
``late_from`` date on.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from demo_city import styles
from demo_city.slots import SLOTS
from features.taxonomy import Leaf, Taxonomy

ALTERNATIVES = re.compile(r"\[([^\[\]]*\|[^\[\]]*)\]")
SLOT = re.compile(r"\{(\w+)\}")
LATE_SHARE = 0.25  # of each leaf's templates, used only late in the simulated period
MIN_TEMPLATES_FOR_LATE = 4  # shorter lists keep all their templates from the start
PARTS = (("templates", ""), ("titles", "title"), ("sensor", "sensor"))  # LeafTemplates fields, id prefixes
LEAF_KEYS = frozenset({"titles", "templates", "sensor", "slots"})


class TemplateError(ValueError):
    """A template file is malformed."""


@dataclass(frozen=True)
class Template:
    text: str
    slots: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    id: str | None = None  # None for the engine's own strings (framings, fallbacks)
    late: bool = False


@dataclass(frozen=True)
class LeafTemplates:
    templates: tuple[Template, ...] = ()
    titles: tuple[Template, ...] = ()
    sensor: tuple[Template, ...] = ()

    def __add__(self, other: LeafTemplates) -> LeafTemplates:
        return LeafTemplates(
            self.templates + other.templates, self.titles + other.titles, self.sensor + other.sensor
        )

    def with_late(self, leaf_id: str) -> LeafTemplates:
        groups = (self.templates, self.titles, self.sensor)
        return LeafTemplates(*(mark_late(leaf_id, group) for group in groups))


@dataclass(frozen=True)
class TemplateBank:
    """Templates as written in the files: keyed by leaf id or L3 name."""

    leaves: Mapping[str, LeafTemplates]
    vague: Mapping[str, tuple[Template, ...]]

    def for_taxonomy(self, taxonomy: Taxonomy) -> dict[str, LeafTemplates]:
        """Templates per leaf id of ``taxonomy``, late ones marked (leaves without bodies are absent)."""
        resolved: dict[str, LeafTemplates] = {}
        for key, entry in self.leaves.items():
            leaf = resolve_key(taxonomy, key)
            if leaf is not None:
                resolved[leaf.id] = resolved.get(leaf.id, LeafTemplates()) + entry
        return {leaf_id: entry.with_late(leaf_id) for leaf_id, entry in resolved.items() if entry.templates}


def mark_late(leaf_id: str, templates: tuple[Template, ...]) -> tuple[Template, ...]:
    """Mark round(LATE_SHARE * n) templates late, picked by a hash of leaf id and text (not by position,
    so adding a template elsewhere in the files does not reshuffle which ones are late)."""
    if len(templates) < MIN_TEMPLATES_FOR_LATE:
        return templates
    n_late = int(len(templates) * LATE_SHARE + 0.5)
    digests = [hashlib.sha256(f"{leaf_id}\n{t.text}".encode()).digest() for t in templates]
    late = set(sorted(range(len(templates)), key=lambda i: (digests[i], i))[:n_late])
    return tuple(replace(t, late=i in late) for i, t in enumerate(templates))


def late_template_ids(taxonomy: Taxonomy, bank: TemplateBank | None = None) -> frozenset[str]:
    """Ids of the templates the engine holds back until its ``late_from`` date."""
    resolved = (bank or load_templates()).for_taxonomy(taxonomy)
    groups = (group for entry in resolved.values() for group in (entry.templates, entry.titles, entry.sensor))
    return frozenset(t.id for group in groups for t in group if t.late and t.id is not None)


def resolve_key(taxonomy: Taxonomy, key: str) -> Leaf | None:
    """A template key is a leaf id, or an L3 name that occurs once in the taxonomy."""
    if key in taxonomy.leaf_ids:
        return taxonomy.leaf(key)
    matches = [leaf for leaf in taxonomy.leaves if leaf.l3 == key]
    return matches[0] if len(matches) == 1 else None


def load_templates(paths: Iterable[Path] | None = None) -> TemplateBank:
    """Merge template files (default: every bundled templates/*.yaml, in name order)."""
    if paths is None:
        sources = _bundled_sources()
    else:
        sources = [(Path(p).name, Path(p).read_text("utf-8")) for p in paths]
    leaves: dict[str, LeafTemplates] = {}
    vague: dict[str, tuple[Template, ...]] = {}
    for name, text in sources:
        file_leaves, file_vague = _parse_file(name, yaml.safe_load(text) or {})
        for key, entry in file_leaves.items():
            leaves[key] = leaves.get(key, LeafTemplates()) + entry
        for key, templates in file_vague.items():
            vague[key] = vague.get(key, ()) + templates
    return TemplateBank(leaves=leaves, vague=vague)


def _bundled_sources() -> list[tuple[str, str]]:
    folder = resources.files("demo_city.templates")
    files = sorted((f for f in folder.iterdir() if f.name.endswith((".yaml", ".yml"))), key=lambda f: f.name)
    return [(f.name, f.read_text("utf-8")) for f in files]


def _parse_file(name: str, data: Any) -> tuple[dict[str, LeafTemplates], dict[str, tuple[Template, ...]]]:
    if not isinstance(data, dict):
        raise TemplateError(f"{name}: expected a mapping with 'leaves' and/or 'vague'")
    stem = Path(name).stem
    file_slots = _slot_table(name, data.get("slots") or {})
    leaves = {}
    for key, entry in (data.get("leaves") or {}).items():
        if not isinstance(entry, dict):
            raise TemplateError(f"{name}: leaf {key!r} must be a mapping with 'templates'")
        unknown = sorted(set(entry) - LEAF_KEYS)
        if unknown:
            allowed = sorted(LEAF_KEYS)
            raise TemplateError(f"{name}: leaf {key!r} has unknown keys {unknown}, allowed: {allowed}")
        slots = {**file_slots, **_slot_table(f"{name}: {key}", entry.get("slots") or {})}
        leaves[str(key)] = LeafTemplates(
            *(_templates(name, f"{stem}:{key}:{prefix}", entry.get(kind), slots) for kind, prefix in PARTS)
        )
    vague = {
        str(key): _templates(name, f"{stem}:vague/{key}:", texts, file_slots)
        for key, texts in (data.get("vague") or {}).items()
    }
    return leaves, vague


def _templates(
    where: str, id_prefix: str, values: Any, slots: Mapping[str, tuple[str, ...]]
) -> tuple[Template, ...]:
    texts = _strings(where, id_prefix, values)
    return tuple(Template(text, slots, f"{id_prefix}{i}") for i, text in enumerate(texts))


def _slot_table(where: str, raw: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, dict):
        raise TemplateError(f"{where}: 'slots' must map names to lists of strings")
    return {str(name): _strings(where, name, values) for name, values in raw.items()}


def _strings(where: str, key: Any, values: Any) -> tuple[str, ...]:
    if values is None:
        return ()
    if not isinstance(values, list) or not all(isinstance(v, str | int | float) for v in values):
        raise TemplateError(f"{where}: {key!r} must be a list of strings")
    return tuple(str(v).strip() for v in values if str(v).strip())


# ---- coverage and checks -----------------------------------------------------------------------
def template_coverage(taxonomy: Taxonomy, bank: TemplateBank | None = None) -> list[str]:
    """Leaf ids of ``taxonomy`` that have no template (they get fallback texts)."""
    covered = (bank or load_templates()).for_taxonomy(taxonomy)
    return [leaf_id for leaf_id in taxonomy.leaf_ids if leaf_id not in covered]


def template_problems(taxonomy: Taxonomy, bank: TemplateBank | None = None) -> list[str]:
    """Keys that match no leaf, unknown slots, unbalanced brackets."""
    bank = bank or load_templates()
    problems = [f"key {key!r} matches no leaf" for key in bank.leaves if resolve_key(taxonomy, key) is None]
    groups: list[tuple[str, tuple[Template, ...]]] = [
        (key, entry.templates + entry.titles + entry.sensor) for key, entry in bank.leaves.items()
    ]
    groups += list(bank.vague.items())
    for key, templates in groups:
        for template in templates:
            problems += [f"{key}: {issue} in {template.text!r}" for issue in _template_issues(template)]
    return problems


def _template_issues(template: Template) -> list[str]:
    texts = [template.text, *(v for values in template.slots.values() for v in values)]
    issues = []
    for text in texts:
        known = (SLOTS, styles.STYLE_SLOTS, template.slots)
        unknown = [s for s in SLOT.findall(text) if not any(s in table for table in known)]
        issues += [f"unknown slot {{{s}}}" for s in unknown]
        stripped = SLOT.sub("", ALTERNATIVES.sub("", text))
        if any(c in stripped for c in "[]{}"):
            issues.append("unbalanced [] or {}")
    return issues

"""The demo city's text engine: a Chinese report (title + text) for every event.

Template files
==============
``features/demo_city/templates/*.yaml`` (all files, read in file-name order, merged)::

    slots:                              # optional: vocabularies for every template in this file
      noise: [拖动桌椅, 跳绳, 打麻将]
    leaves:
      矛盾纠纷/邻里纠纷/噪音扰邻纠纷:      # key: a leaf id, or just the L3 name when that is unique
        titles:                         # 2-6 short operator titles (no need to repeat the leaf name)
          - 楼上噪音扰民
        templates:                      # 6-12 report bodies: what happened, no framing
          - "{neighbour}{time}[总是|老是]{noise}，吵得睡不着"
          - "{estate}{building}有住户{frequency}在家{noise}"
        slots:                          # optional: vocabularies for this leaf only (override file slots)
          noise: [拖动桌椅, 大声放音乐]
    vague:                              # optional: deliberately unclear bodies, by L1 name or risk group
      矛盾纠纷: ["和邻居的事情一直解决不了"]
      hazard: ["{estate}那边感觉不太安全"]

Syntax inside a template, title or slot value:

* ``{name}``: a slot. Global slots are listed in ``slots.SLOT_HELP`` ({estate} {building} {road} {place}
  {person} {neighbour} {time} {duration} {shop} {company} {amount} {phone} {idcard} {plate} ...), plus
  the style slots {request} {emotion} {action} of ``styles.STYLE_SLOTS``; file and leaf ``slots`` add
  more (a value may itself contain slots and alternatives).
* ``[a|b|c]``: pick one alternative; ``[很|]`` makes a word optional. No nesting.

A body is the core of the report, written without a trailing full stop. The engine wraps it in a
channel framing (话务员记录 for hotline, 网格员巡查 for grid workers, the citizen's own words for the
app, an alarm for sensors), may add padding sentences (background, emotion, repeated complaints, a
request, fake contact data), colloquial fillers, typos (同音错别字), dropped characters or missing
punctuation, joins a second issue for compound reports, and keeps lengths within ~10..300 characters.
Leaves without templates get a fallback body built from their names (``styles.FALLBACKS``).
Several files may describe the same leaf: their templates and titles are concatenated.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from features.demo_city import styles
from features.demo_city.slots import SLOTS, Place
from features.taxonomy import Leaf, Taxonomy

ALTERNATIVES = re.compile(r"\[([^\[\]]*\|[^\[\]]*)\]")
SLOT = re.compile(r"\{(\w+)\}")
MIN_CHARS, MAX_CHARS = 10, 300
FRAME_SLOTS = ("body", "l1", "l2", "l3", *styles.STYLE_SLOTS)

ONCE_PER_REPORT = ("background", "contact")  # padding kinds used at most once per report
SHORT_SHARE = 0.12  # app and grid-worker reports that are just a few words
VAGUE_SHARE = 0.03
COLLOQUIAL_SHARE = {"app": 0.55, "hotline": 0.08}
TYPO_SHARE = 0.12
DROP_CHAR_SHARE = 0.05
NO_PUNCTUATION_SHARE = 0.08
NO_TITLE_SHARE = 0.12
GENERIC_TITLE_SHARE = 0.3


class TemplateError(ValueError):
    """A template file is malformed."""


@dataclass(frozen=True)
class Template:
    text: str
    slots: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class LeafTemplates:
    templates: tuple[Template, ...] = ()
    titles: tuple[Template, ...] = ()


@dataclass(frozen=True)
class TemplateBank:
    """Templates as written in the files: keyed by leaf id or L3 name."""

    leaves: Mapping[str, LeafTemplates]
    vague: Mapping[str, tuple[Template, ...]]

    def for_taxonomy(self, taxonomy: Taxonomy) -> dict[str, LeafTemplates]:
        """Templates per leaf id of ``taxonomy`` (leaves without any are absent)."""
        resolved: dict[str, LeafTemplates] = {}
        for key, entry in self.leaves.items():
            leaf = resolve_key(taxonomy, key)
            if leaf is None:
                continue
            before = resolved.get(leaf.id, LeafTemplates())
            resolved[leaf.id] = LeafTemplates(
                before.templates + entry.templates, before.titles + entry.titles
            )
        return {leaf_id: entry for leaf_id, entry in resolved.items() if entry.templates}


def resolve_key(taxonomy: Taxonomy, key: str) -> Leaf | None:
    """A template key is a leaf id, or an L3 name that occurs once in the taxonomy."""
    if key in taxonomy.leaf_ids:
        return taxonomy.leaf(key)
    matches = [leaf for leaf in taxonomy.leaves if leaf.l3 == key]
    return matches[0] if len(matches) == 1 else None


def load_templates(paths: Iterable[Path] | None = None) -> TemplateBank:
    """Merge template files (default: every bundled templates/*.yaml, in name order)."""
    sources = _bundled_sources() if paths is None else [(str(p), Path(p).read_text("utf-8")) for p in paths]
    leaves: dict[str, LeafTemplates] = {}
    vague: dict[str, tuple[Template, ...]] = {}
    for name, text in sources:
        file_leaves, file_vague = _parse_file(name, yaml.safe_load(text) or {})
        for key, entry in file_leaves.items():
            before = leaves.get(key, LeafTemplates())
            leaves[key] = LeafTemplates(before.templates + entry.templates, before.titles + entry.titles)
        for key, templates in file_vague.items():
            vague[key] = vague.get(key, ()) + templates
    return TemplateBank(leaves=leaves, vague=vague)


def _bundled_sources() -> list[tuple[str, str]]:
    folder = resources.files("features.demo_city.templates")
    files = sorted((f for f in folder.iterdir() if f.name.endswith((".yaml", ".yml"))), key=lambda f: f.name)
    return [(f.name, f.read_text("utf-8")) for f in files]


def _parse_file(name: str, data: Any) -> tuple[dict[str, LeafTemplates], dict[str, tuple[Template, ...]]]:
    if not isinstance(data, dict):
        raise TemplateError(f"{name}: expected a mapping with 'leaves' and/or 'vague'")
    file_slots = _slot_table(name, data.get("slots") or {})
    leaves = {}
    for key, entry in (data.get("leaves") or {}).items():
        if not isinstance(entry, dict):
            raise TemplateError(f"{name}: leaf {key!r} must be a mapping with 'templates'")
        slots = {**file_slots, **_slot_table(f"{name}: {key}", entry.get("slots") or {})}
        leaves[str(key)] = LeafTemplates(
            templates=tuple(Template(t, slots) for t in _strings(name, key, entry.get("templates"))),
            titles=tuple(Template(t, slots) for t in _strings(name, key, entry.get("titles"))),
        )
    vague = {
        str(key): tuple(Template(t, file_slots) for t in _strings(name, key, texts))
        for key, texts in (data.get("vague") or {}).items()
    }
    return leaves, vague


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
        (key, entry.templates + entry.titles) for key, entry in bank.leaves.items()
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


# ---- rendering ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Report:
    title: str | None
    text: str


class TextEngine:
    """Renders reports; one ``random.Random`` drives every choice, so same seed, same texts."""

    def __init__(self, taxonomy: Taxonomy, bank: TemplateBank | None = None, seed: int = 7) -> None:
        self.taxonomy = taxonomy
        self.bank = bank or load_templates()
        self.templates = self.bank.for_taxonomy(taxonomy)
        self.rng = random.Random(seed)
        self.fallback_count = 0

    def render(
        self, leaf: Leaf, channel: str, place: Place, when: datetime, secondary: Leaf | None = None
    ) -> Report:
        rng = self.rng
        if secondary is None and channel in ("app", "grid_worker") and rng.random() < SHORT_SHARE:
            text = self._short(leaf, place, when)
        else:
            body = self._body(leaf, place, when, allow_vague=secondary is None)
            if secondary is not None:
                body += rng.choice(styles.CONNECTORS) + self._body(secondary, place, when, allow_vague=False)
            text = self._framed(self._padded(body, channel, place, when), channel, leaf, place, when)
        text = _fit(self._noisy(text, channel), rng)
        return Report(self._title(leaf, channel, place, when), text)

    # ---- pieces ---------------------------------------------------------------------------------
    def _body(self, leaf: Leaf, place: Place, when: datetime, allow_vague: bool = True) -> str:
        rng = self.rng
        if allow_vague and rng.random() < VAGUE_SHARE:
            template = rng.choice(self._vague(leaf))
        elif leaf.id in self.templates:
            template = rng.choice(self.templates[leaf.id].templates)
        else:
            self.fallback_count += 1
            template = Template(rng.choice(styles.FALLBACKS))
        return _strip_end(self.fill(template, leaf, place, when))

    def _vague(self, leaf: Leaf) -> Sequence[Template]:
        own = self.bank.vague.get(leaf.l1, ()) + self.bank.vague.get(leaf.risk_group, ())
        return own or tuple(Template(t) for t in styles.GENERIC_VAGUE)

    def _short(self, leaf: Leaf, place: Place, when: datetime) -> str:
        rng = self.rng
        titles = self.templates[leaf.id].titles if leaf.id in self.templates else ()
        title = rng.choice(titles) if titles and rng.random() < 0.6 else None
        if title is not None:
            core = self.fill(title, leaf, place, when)
        else:
            core = re.split(r"[，。！？；]", self._body(leaf, place, when))[0]
        places = ("{estate}{building}", "{estate}", "{road}", "{place}", "")
        located = title is not None and "{" in title.text
        where = "" if located else self.fill(Template(rng.choice(places)), leaf, place, when)
        return where + core + rng.choice(("", "", "。", "！", "，请处理", "，速来"))

    def _padded(self, body: str, channel: str, place: Place, when: datetime) -> str:
        rng = self.rng
        kinds = styles.PADDING_BY_CHANNEL[channel]
        if not kinds:
            return body
        long = rng.random() < styles.LONG_SHARE.get(channel, 0.0)
        count = rng.randint(8, 14) if long else rng.choice(styles.PADDING_COUNTS[channel])
        before: list[str] = []
        after: list[str] = []
        used: set[str] = set()  # sentences and ONCE_PER_REPORT kinds already used
        for _ in range(count):
            kind = rng.choice(kinds)
            source = rng.choice(styles.PADDING_KINDS[kind])
            if source in used or (kind in used and kind in ONCE_PER_REPORT):
                continue
            used.update((source, kind))
            sentence = _strip_end(self.fill(Template(source), None, place, when))
            (before if kind == "background" else after).append(sentence)
        parts = [*before, body, *after]
        return "".join(p + rng.choice(("，", "，", "。")) for p in parts[:-1]) + parts[-1]

    def _framed(self, core: str, channel: str, leaf: Leaf, place: Place, when: datetime) -> str:
        frame = self.rng.choice(styles.FRAMES[channel])
        return self.fill(Template(frame), leaf, place, when, body=core)

    def _noisy(self, text: str, channel: str) -> str:
        rng = self.rng
        if rng.random() < COLLOQUIAL_SHARE.get(channel, 0.0):
            text = (rng.choice(styles.OPENERS) if rng.random() < 0.6 else "") + _strip_end(text)
            text += rng.choice(styles.CLOSERS)
        if rng.random() < TYPO_SHARE:
            text = _typo(text, rng)
        if rng.random() < DROP_CHAR_SHARE and len(text) > 12:
            cut = rng.randrange(2, len(text) - 1)
            text = text[:cut] + text[cut + 1 :]
        if rng.random() < NO_PUNCTUATION_SHARE:
            replacement = rng.choice(("", " "))
            text = re.sub(f"[{styles.PUNCTUATION}]+", replacement, text).strip()
        return text

    def _title(self, leaf: Leaf, channel: str, place: Place, when: datetime) -> str | None:
        rng = self.rng
        draw = rng.random()
        if draw < NO_TITLE_SHARE:
            return None
        if draw < NO_TITLE_SHARE + GENERIC_TITLE_SHARE:
            return rng.choice(styles.GENERIC_TITLES[channel])
        titles = self.templates[leaf.id].titles if leaf.id in self.templates else ()
        template = rng.choice(titles) if titles else Template(rng.choice(styles.FALLBACK_TITLES))
        if "{" not in template.text and rng.random() < 0.25:
            template = Template("{estate}" + template.text, template.slots)
        return self.fill(template, leaf, place, when)

    # ---- slot filling ---------------------------------------------------------------------------
    def fill(
        self, template: Template, leaf: Leaf | None, place: Place, when: datetime, body: str = ""
    ) -> str:
        """Expand alternatives and slots (values may contain slots too: up to three rounds)."""
        rng = self.rng
        names = {"l1": leaf.l1, "l2": leaf.l2, "l3": leaf.l3} if leaf else {}

        def slot(match: re.Match[str]) -> str:
            name = match.group(1)
            if name == "body":
                return body
            if name in template.slots:
                return rng.choice(template.slots[name])
            if name in styles.STYLE_SLOTS:
                return rng.choice(styles.STYLE_SLOTS[name])
            if name in names:
                return names[name]
            filler = SLOTS.get(name)
            return filler(rng, place, when) if filler else ""

        text = template.text
        for _ in range(3):
            text = ALTERNATIVES.sub(lambda m: rng.choice(m.group(1).split("|")), text)
            if "{" not in text:
                break
            text = SLOT.sub(slot, text)
            body = ""  # the body is inserted once; braces inside it are the user's text, not slots
        return text


def _strip_end(text: str) -> str:
    return text.strip().rstrip("。.！!；;，, ")


def _typo(text: str, rng: random.Random) -> str:
    candidates = [(right, wrong) for right, wrong in styles.TYPOS if right in text]
    for right, wrong in rng.sample(candidates, min(len(candidates), rng.choice((1, 1, 2)))):
        positions = [m.start() for m in re.finditer(re.escape(right), text)]
        if not positions:  # an earlier typo took it
            continue
        at = rng.choice(positions)
        text = text[:at] + wrong + text[at + len(right) :]
    return text


def _fit(text: str, rng: random.Random) -> str:
    """Keep lengths within MIN_CHARS..MAX_CHARS: cut long texts at a sentence end, pad short ones."""
    if len(text) > MAX_CHARS:
        head = text[:MAX_CHARS]
        end = max(head.rfind(mark) for mark in "。！？；")
        text = head[: end + 1] if end >= MAX_CHARS // 2 else head[: MAX_CHARS - 1] + "。"
    if len(text) < MIN_CHARS:
        text = _strip_end(text) + "，" + rng.choice(styles.REQUEST_SENTENCES)
    return text

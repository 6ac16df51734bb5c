"""The demo city's text engine: a Chinese report (title + text) for every event.

Bodies come from the template files (``bank``, format in templates/README.md). The engine wraps a body
in a channel framing (话务员记录 for hotline, 网格员巡查 or 走访 for grid workers, the citizen's own words
for the app, an alarm for sensors) that suits the leaf's register (``voices``: a question is 咨询, praise
is 表扬, a dispute asks for 调解), may add padding sentences in that register (background, emotion,
repeated complaints, a request, fake contact data), colloquial fillers, typos (同音错别字), dropped
characters or missing punctuation, joins a second issue for compound reports, and keeps lengths within
~10..300 characters. Sensor reports use only the leaf's ``sensor`` alarm templates; the other channels
never do. Templates marked late (``bank.mark_late``) are used only from ``late_from`` on. Leaves without
templates get a fallback body built from their names (``styles.FALLBACKS``).
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from demo_city import slots, styles, voices
from demo_city.bank import (
    ALTERNATIVES,
    SLOT,
    LeafTemplates,
    Template,
    TemplateBank,
    TemplateError,
    late_template_ids,
    load_templates,
    template_coverage,
    template_problems,
)
from demo_city.slots import SLOTS, Place
from features.taxonomy import Leaf, Taxonomy

__all__ = [
    "Report",
    "Template",
    "TemplateBank",
    "TemplateError",
    "TextEngine",
    "late_template_ids",
    "load_templates",
    "template_coverage",
    "template_problems",
]

MIN_CHARS, MAX_CHARS = 10, 300
ONCE_PER_REPORT = ("background", "contact")  # padding kinds used at most once per report
SHORT_SHARE = 0.12  # app and grid-worker reports that are just a few words
VAGUE_SHARE = 0.03
COLLOQUIAL_SHARE = {"app": 0.55, "hotline": 0.08}
TYPO_SHARE = 0.12
DROP_CHAR_SHARE = 0.05
NO_PUNCTUATION_SHARE = 0.08
NO_TITLE_SHARE = 0.12
GENERIC_TITLE_SHARE = 0.3
# Slots that name where something is: a body that starts with one needs no place added in front.
LOCATION_SLOTS = frozenset({"community", "district", "estate", "building", "room", "road", "place"})
# Slots that identify an incident's spot or object: the same for every report of one incident.
ANCHORED_SLOTS = frozenset({
    "estate", "building", "room", "floor", "road", "place", "shop", "company", "plate", "device", "vehicle",
    "brand", "eatery", "store", "seller", "hospital", "clinic", "school", "office", "institute", "nursery",
    "river", "neighbour",
})
ALARM_SITES = frozenset({"community", "estate", "road", "place"})  # enough to find an alarm's device
FIRST_PERSON = re.compile(r"^(我|咱|家里|楼上|楼下|隔壁|对门|邻居)")
CLAUSE_END = re.compile(r"[，。！？；]")
QUESTION = re.compile(
    r"(吗|呢|么|多少|怎么办|怎么弄|哪里|哪儿|什么|几天|谁|多久|能不能|可不可以|行不行|有没有|是不是|要不要)$"
)
QUESTION_MARK_SHARE = 0.6  # bodies that end like a question get a ？ (the others are typed without)
AFTER_QUESTION = re.compile(r"？[，。！；、]+")
CROSSING_ECHO = re.compile(r"交叉口(这个|那个)?路口")  # a crossing joined to a clause that starts with 路口
# A framing that says 建议/咨询 itself drops the body's own lead-in (市民来电建议：建议… -> 市民来电建议：…).
ECHOED_LEAD_INS = {
    "建议": re.compile(r"^(提个建议|建议)[，：:]?"),
    "咨询": re.compile(r"^(想咨询一下|咨询一下)[，：:]?"),
}
FRAME_LEAD_IN = re.compile(r"^(随手拍|\[求助\]|我要反映|请问|咨询一下|想问一下|建议：|提个建议|表扬一下)")
# After these words a street must be a plain street, not a crossing (…交叉口这个路口).
STREET_ONLY_BEFORE = ("路口", "这个路口", "那个路口", "那段", "这段", "沿", "路面", "路边", "路中间", "辅道",
                      "机动车道", "非机动车道", "是", "这条", "那条", "整条", "全线", "两侧", "桥")


@dataclass(frozen=True)
class Report:
    title: str | None
    text: str
    template_id: str | None = None  # the body's template; None for fallback texts


@dataclass(frozen=True)
class Body:
    text: str
    template_id: str | None
    located: bool  # the text starts by naming a place (or speaks from the reporter's home: 我家楼上…)


class TextEngine:
    """Renders reports; one ``random.Random`` drives every choice, so same seed, same texts."""

    def __init__(
        self,
        taxonomy: Taxonomy,
        bank: TemplateBank | None = None,
        seed: int = 7,
        late_from: datetime | None = None,
    ) -> None:
        self.taxonomy = taxonomy
        self.bank = bank or load_templates()
        self.templates: dict[str, LeafTemplates] = self.bank.for_taxonomy(taxonomy)
        self.late_from = late_from  # None: late templates are used from the start
        self.rng = random.Random(seed)
        self.fallback_count = 0
        # While set, slots that name a spot (ANCHORED_SLOTS) are drawn from a generator seeded by the
        # anchor, so every report of one incident names the same estate, building, road, shop ...
        self.anchor: str | None = None
        # While set, the body template _body takes when it is usable: a repeat report retells its incident's
        # story (another of the leaf's templates is another story: a barking dog, not a bass speaker)
        self.preferred: str | None = None

    @property
    def sensed_leaves(self) -> frozenset[str]:
        """Leaf ids with sensor alarm templates: the only leaves sensors should report."""
        return frozenset(leaf_id for leaf_id, entry in self.templates.items() if entry.sensor)

    def render(
        self, leaf: Leaf, channel: str, place: Place, when: datetime, secondary: Leaf | None = None
    ) -> Report:
        rng = self.rng
        if channel == "sensor":
            body = self._alarm(leaf, place, when)
            text = _fit(self._framed(body, channel, leaf, place, when), rng, styles.SENSOR_ENDINGS)
            return Report(self._title(leaf, channel, place, when), text, body.template_id)
        if secondary is None and channel in ("app", "grid_worker") and rng.random() < SHORT_SHARE:
            body = self._short(leaf, place, when)
            text = CROSSING_ECHO.sub("交叉口", body.text)
        else:
            body = self._body(leaf, place, when, allow_vague=secondary is None)
            core = body.text
            if secondary is not None:
                second = self._body(secondary, place, when, allow_vague=False)
                core += rng.choice(styles.CONNECTORS) + second.text
            padded = Body(self._padded(core, channel, leaf, place, when), body.template_id, body.located)
            text = self._framed(padded, channel, leaf, place, when)
        text = AFTER_QUESTION.sub("？", self._noisy(text, channel, leaf))
        text = _fit(text, rng, voices.voice(leaf).request_sentence)
        return Report(self._title(leaf, channel, place, when), text, body.template_id)

    # ---- choosing templates ---------------------------------------------------------------------
    def _usable(self, templates: Sequence[Template], when: datetime) -> Sequence[Template]:
        if self.late_from is None or when >= self.late_from:
            return templates
        return [t for t in templates if not t.late]

    def _body(self, leaf: Leaf, place: Place, when: datetime, allow_vague: bool = True) -> Body:
        rng = self.rng
        if allow_vague and rng.random() < VAGUE_SHARE:
            template = rng.choice(self._vague(leaf))
        elif leaf.id in self.templates:
            usable = self._usable(self.templates[leaf.id].templates, when)
            preferred = [t for t in usable if self.preferred is not None and t.id == self.preferred]
            template = preferred[0] if preferred else rng.choice(usable)
        else:
            self.fallback_count += 1
            template = Template(rng.choice(styles.FALLBACKS))
        text = _strip_end(self.fill(template, leaf, place, when))
        if QUESTION.search(text) and rng.random() < QUESTION_MARK_SHARE:
            text += "？"
        return Body(text, template.id, _starts_located(template.text) or bool(FIRST_PERSON.match(text)))

    def _vague(self, leaf: Leaf) -> Sequence[Template]:
        own = self.bank.vague.get(leaf.l1, ()) + self.bank.vague.get(leaf.risk_group, ())
        return own or tuple(Template(t, id=f"styles:vague:{i}") for i, t in enumerate(styles.GENERIC_VAGUE))

    def _alarm(self, leaf: Leaf, place: Place, when: datetime) -> Body:
        """A sensor alarm: the leaf's sensor templates only, always with a place."""
        entry = self.templates.get(leaf.id)
        alarms = self._usable(entry.sensor, when) if entry else ()
        if alarms:
            template = self.rng.choice(alarms)
        else:
            self.fallback_count += 1
            template = Template(self.rng.choice(styles.SENSOR_FALLBACKS))
        named = set(SLOT.findall(template.text))
        if not named & ALARM_SITES:  # 502室烟感报警 -> 桂花新村3幢502室烟感报警
            site = "{estate}" if "building" in named else "{estate}{building}"
            template = Template(site + template.text, template.slots, template.id)
        return Body(_strip_end(self.fill(template, leaf, place, when)), template.id, located=True)

    def _short(self, leaf: Leaf, place: Place, when: datetime) -> Body:
        """A few words: a title or the first clause of a body, with a place in front when it has none."""
        rng = self.rng
        entry = self.templates.get(leaf.id)
        titles = self._usable(entry.titles, when) if entry else ()
        if titles and rng.random() < 0.6:
            title = rng.choice(titles)
            body = Body(self.fill(title, leaf, place, when), title.id, _mentions_location(title.text))
        else:
            body = self._body(leaf, place, when)
        core = CLAUSE_END.split(body.text)[0]
        calm = voices.register(leaf) in voices.CALM_REGISTERS
        where = ""
        if not (body.located or calm):
            where = self.fill(Template(rng.choice(styles.SHORT_PLACES)), leaf, place, when)
        text = where + core + rng.choice(voices.voice(leaf).short_ending)
        return Body(text, body.template_id, located=True)

    # ---- dressing a body ------------------------------------------------------------------------
    def _padded(self, body: str, channel: str, leaf: Leaf, place: Place, when: datetime) -> str:
        rng = self.rng
        pools = _padding_pools(leaf)
        kinds = [kind for kind in styles.PADDING_BY_CHANNEL[channel] if pools[kind]]
        if not kinds:
            return body
        long = rng.random() < styles.LONG_SHARE.get(channel, 0.0)
        count = rng.randint(8, 14) if long else rng.choice(styles.PADDING_COUNTS[channel])
        before: list[str] = []
        after: list[str] = []
        background = after if voices.register(leaf) in voices.BACKGROUND_AFTER else before
        used: set[str] = set()  # sentences and ONCE_PER_REPORT kinds already used
        for _ in range(count):
            kind = rng.choice(kinds)
            source = rng.choice(pools[kind])
            if source in used or (kind in used and kind in ONCE_PER_REPORT):
                continue
            used.update((source, kind))
            sentence = _strip_end(self.fill(Template(source), leaf, place, when))
            (background if kind == "background" else after).append(sentence)
        parts = [*before, body, *after]
        return "".join(p + rng.choice(("，", "，", "。")) for p in parts[:-1]) + parts[-1]

    def _framed(self, body: Body, channel: str, leaf: Leaf, place: Place, when: datetime) -> str:
        frames = _frames(channel, voices.register(leaf), first_person="我" in body.text)
        if body.located:  # don't name a second place in front of the body's own
            frames = [f for f in frames if not _mentions_location(f)] or frames
        frame = self.rng.choice(frames)
        text = body.text
        for word, lead_in in ECHOED_LEAD_INS.items():
            if word in frame:
                text = lead_in.sub("", text, count=1) or text
        return self.fill(Template(frame), leaf, place, when, body=text)

    def _noisy(self, text: str, channel: str, leaf: Leaf) -> str:
        rng = self.rng
        if rng.random() < COLLOQUIAL_SHARE.get(channel, 0.0):
            opener = rng.choice(styles.OPENERS) if rng.random() < 0.6 else ""
            if channel == "app" and not FRAME_LEAD_IN.match(text):  # operators' records have no 喂，
                text = opener + text
            text = _strip_end(text) + rng.choice(voices.voice(leaf).closer)
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
        if channel == "sensor" or draw < NO_TITLE_SHARE + GENERIC_TITLE_SHARE:
            return rng.choice(styles.GENERIC_TITLES[channel])
        entry = self.templates.get(leaf.id)
        titles = self._usable(entry.titles, when) if entry else ()
        template = rng.choice(titles) if titles else Template(rng.choice(styles.FALLBACK_TITLES))
        if "{" not in template.text and rng.random() < 0.25:
            template = Template("{estate}" + template.text, template.slots)
        return self.fill(template, leaf, place, when)

    # ---- slot filling ---------------------------------------------------------------------------
    def fill(
        self, template: Template, leaf: Leaf | None, place: Place, when: datetime, body: str = ""
    ) -> str:
        """Expand alternatives and slots (values may contain slots too: up to three rounds)."""
        names = {"l1": leaf.l1, "l2": leaf.l2, "l3": leaf.l3} if leaf else {}
        style = _style_slots(leaf)
        seen: dict[str, int] = {}

        def slot(match: re.Match[str]) -> str:
            name = match.group(1)
            if name == "body":
                return body
            rng = self.rng
            if self.anchor is not None and name in ANCHORED_SLOTS:
                seen[name] = seen.get(name, 0) + 1
                rng = random.Random(f"{self.anchor}:{name}:{seen[name]}")
                if name in template.slots:  # expand the value's alternatives with the anchored draw too
                    value = rng.choice(template.slots[name])
                    return ALTERNATIVES.sub(lambda m: rng.choice(m.group(1).split("|")), value)
            if name in template.slots:
                return rng.choice(template.slots[name])
            if name in style:
                return rng.choice(style[name])
            if name in names:
                return names[name]
            if name == "road" and match.string.startswith(STREET_ONLY_BEFORE, match.end()):
                return slots.road(place, rng, crossing_share=0.0)
            filler = SLOTS.get(name)
            return filler(rng, place, when) if filler else ""

        text = template.text
        for _ in range(3):
            text = ALTERNATIVES.sub(lambda m: self.rng.choice(m.group(1).split("|")), text)
            if "{" not in text:
                break
            text = SLOT.sub(slot, text)
            body = ""  # the body is inserted once; braces inside it are the user's text, not slots
        return text


# ---- register-dependent pieces (cached per leaf) ---------------------------------------------------
@cache
def _style_slots(leaf: Leaf | None) -> dict[str, tuple[str, ...]]:
    voice = voices.voice(leaf)
    return {
        "request": voice.request,
        "request_sentence": voice.request_sentence,
        "action": voice.action,
        "emotion": voice.emotion,
        "worker": styles.WORKERS,
    }


@cache
def _padding_pools(leaf: Leaf) -> dict[str, tuple[str, ...]]:
    voice = voices.voice(leaf)
    register = voices.register(leaf)
    contacts = styles.PHONE_CONTACTS
    if register not in ("praise", "suggestion"):
        contacts += styles.ID_CONTACTS
    if voices.mentions_vehicles(leaf):
        contacts += styles.PLATE_CONTACTS
    return {
        "background": voice.background,
        "emotion": voice.emotion,
        "repeat": voice.repeat,
        "request": voice.request_sentence,
        "contact": contacts,
    }


@cache
def _frames(channel: str, register: str, first_person: bool) -> list[str]:
    own = styles.REGISTER_FRAMES.get(register, {}).get(channel)
    if own is not None:
        return list(own)
    if channel == "grid_worker" and first_person:  # a resident's own words: heard, not seen on patrol
        return list(styles.HEARD_FRAMES)
    return list(styles.FRAMES[channel])


def _mentions_location(text: str) -> bool:
    return any(name in LOCATION_SLOTS for name in SLOT.findall(text))


def _starts_located(text: str) -> bool:
    """The template's first clause names a place."""
    return _mentions_location(CLAUSE_END.split(text)[0])


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


def _fit(text: str, rng: random.Random, endings: Sequence[str]) -> str:
    """Keep lengths within MIN_CHARS..MAX_CHARS: cut long texts at a sentence end, pad short ones."""
    if len(text) > MAX_CHARS:
        head = text[:MAX_CHARS]
        end = max(head.rfind(mark) for mark in "。！？；")
        text = head[: end + 1] if end >= MAX_CHARS // 2 else head[: MAX_CHARS - 1] + "。"
    while len(text) < MIN_CHARS:
        text = _strip_end(text) + "，" + rng.choice(endings)
    return text

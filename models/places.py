"""Named places in Chinese report texts: the estates, streets, villages, schools and firms a report is about.

Duplicate detection turns on them: one complaint template posted about several estates is several
problems, while one estate's problem told in other words is one. :func:`extract_places` finds names that
end in a place word (小区, 花园, 街道, 路, 村, 镇, 学校, 公司 ...), cut at the words that cannot be part of a
name (我是, 位于, 在, 的 ...) and without the administrative prefix (A市, A3区, 西地省: they say where the
city is, not which place); :func:`place_similarity` compares two sets of names allowing typos and partial
names (金领公寓 / 金邻公寓, 才子佳苑2期 / 才子佳苑).

Pure Python and regular expressions: no model, no data file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

# Place words, longest first (the regex alternation takes the first that matches).
PLACE_SUFFIXES: tuple[str, ...] = tuple(
    sorted(
        set(
            "小区 花园 家园 新村 新城 公寓 大厦 广场 社区 宿舍 家属区 安置房 苑 "
            "园 府 庭 湾 城 居 坊 阁 楼 期 栋 街道 大道 路 街 巷 桥 立交 "
            "高速 线 片区 新区 开发区 工业园 村 镇 乡 组 屯 寨 坪 塘 湖 山 "
            "港 学校 中学 小学 幼儿园 学院 大学 医院 卫生院 公园 市场 商场 超市 "
            "公司 集团 驾校 酒店 宾馆 饭店 餐馆 地铁站 车站 站 停车场 工地 项目 "
            "楼盘 派出所 银行 支行 网 平台 中心 厂 ".split()
        ),
        key=len,
        reverse=True,
    )
)
# Characters and words that end a name when read leftwards from the place word.
_BREAK_WORDS = tuple(
    "我是 我们是 本人是 住在 位于 地处 属于 关于 反映 反应 投诉 举报 "
    "请问 咨询 建议 希望 要求 请求 恳请 强烈 解决 我们 本人 居民 业主 "
    "附近 旁边 周边 对面 门口 以及 还有 作为 就是 这个 那个 整个 所有 "
    "其中 请 加快 因 此 即 咱 据 修建 距离 临近 回家 打电话 关心 会 "
    "说 让 叫 去 来 如果 目前 现在 已经 一下 一个 这里 那里 这 那 该 "
    "其 ".split()
)
_BREAK_CHARS = (
    "的是在和与及或从到向给对被把将为了也就还又、，。！？；：,.!?;:（）()【】[]《》<>“”\"' \t\n的个"
)
_ADMIN_PREFIX = re.compile(r"^(?:[A-Z][0-9]{0,2}[省市区县])+|^西地省|^(?:[一-鿿]{2,3}省)")
_GENERIC = frozenset(
    "小区 社区 街道 公司 学校 医院 市场 公园 项目 楼盘 平台 中心 道路 "
    "马路 一期 二期 三期 四期 五期 本小区 我小区 该小区 我们小区 新小区 "
    "老小区 该公司 物业公司 开发商 政府 城管 交警 派出所 银行 工地 停车场 "
    "高速 地铁站 车站 农村 城市 全市 市区 城区 乡镇 村组 本村 我村 该村 "
    "全村 城中村 公交站 ".split()
)
_NOT_A_PLACE = re.compile("政府|市委|县委|区委|领导|书记|部门|有关|相关")
_NAME_CHARS = r"[一-鿿A-Za-z0-9]"
_BREAK_RE = re.compile(
    "|".join(map(re.escape, _BREAK_WORDS))
    + f"|[{re.escape(_BREAK_CHARS)}]|[A-Z][0-9]{{0,2}}[省市区县]|西地省"
)
_SPAN_RE = re.compile(f"{_NAME_CHARS}+")
_ADMIN_ONLY = re.compile(r"^(?:[A-Z][0-9]{0,2}[省市区县])+$")
MAJOR_SUFFIXES: tuple[str, ...] = (
    "幼儿园", "小区", "花园", "家园", "新村", "新城", "公寓", "大厦", "广场", "社区", "街道", "大道", "学校",
    "中学", "小学", "医院", "公园", "市场", "公司", "驾校", "路", "街", "巷", "村", "镇", "乡", "苑",
)  # fmt: skip
_MAJOR_RE = re.compile("|".join(map(re.escape, MAJOR_SUFFIXES)))
_PLACE_RE = re.compile(f"{_NAME_CHARS}{{1,10}}(?:{'|'.join(map(re.escape, PLACE_SUFFIXES))})")


def extract_places(text: str | None, limit: int = 12) -> list[str]:
    """The place names in `text`, in order of first mention, without duplicates: each a run of name
    characters ending in a place word, cut at the last break word before it and without the
    administrative prefix (A市A3区, 西地省). Generic words (小区, 公司 ...) alone are not names."""
    if not text:
        return []
    found: dict[str, None] = {}
    for span in _BREAK_RE.split(text):
        for piece in _SPAN_RE.findall(span):
            for name in _names_in(piece):
                found.setdefault(name, None)
                if len(found) >= limit:
                    return list(found)
    return list(found)


def _names_in(piece: str) -> Iterable[str]:
    """Names in one run of name characters: the run up to each place word it holds (longest first)."""
    piece = _ADMIN_PREFIX.sub("", piece)
    if len(piece) < 2 or _ADMIN_ONLY.match(piece):
        return []
    names = []
    for match in _PLACE_RE.finditer(piece):
        for name in _split_at_major(_ADMIN_PREFIX.sub("", match.group(0))):
            if (
                len(name) >= 3
                and name not in _GENERIC
                and not _ADMIN_ONLY.match(name)
                and not _NOT_A_PLACE.search(name)
            ):
                names.append(name)
    return names


def _split_at_major(name: str) -> list[str]:
    """A name cut after its first major place word (柏家塘小区a区第17栋 -> 柏家塘小区, a区第17栋;
    梅溪湖看云路一师润芳园 -> 梅溪湖看云路, 一师润芳园): a report names the estate, another its unit."""
    match = _MAJOR_RE.search(name, 2)
    if match is None or match.end() >= len(name):
        return [name]
    rest = name[match.end() :]
    return [name[: match.end()], *(_split_at_major(rest) if _PLACE_RE.fullmatch(rest) else [])]


def place_key(name: str) -> str:
    """A name as the store indexes it: the name itself (already without the admin prefix)."""
    return name


@lru_cache(maxsize=65536)
def core(name: str) -> str:
    """The name without its place word (英祥春天小区 -> 英祥春天): what tells two places apart."""
    for suffix in PLACE_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


@lru_cache(maxsize=262144)
def name_similarity(a: str, b: str) -> float:
    """1.0 when one name contains the other, else the share of the shorter core's characters found in
    the other core (typos and variants: 金领公寓 / 金邻公寓 0.5; 英祥春天小区 / 魅力之城小区 0)."""
    if a == b or (len(a) >= 3 and a in b) or (len(b) >= 3 and b in a):
        return 1.0
    first, second = set(core(a)), set(core(b))
    return len(first & second) / max(1, min(len(first), len(second)))


def place_similarity(first: Iterable[str], second: Iterable[str]) -> float | None:
    """How well the places of two reports match: the best name similarity over all pairs of names;
    None when either report names no place (nothing to compare)."""
    a, b = list(first), list(second)
    if not a or not b:
        return None
    return max(name_similarity(x, y) for x in a for y in b)

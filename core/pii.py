"""Personal data in report texts, replaced by placeholders: one rule table, two engines.

Every text that leaves intake goes through :func:`redact_pii` (one string) or :func:`redact_pii_expr`
(a polars column, vectorised: one ``str.replace_all`` per rule). Both apply the same rules, in the same
order, with the same regexes: the patterns use only what Python's ``re`` and Rust's ``regex`` (polars)
read alike (no look-arounds, no flags, no ``\\d``/``\\w``/``\\b``; explicit classes with their full-width
twins), so the two agree character for character (a property test checks it).

What is replaced (the placeholder in brackets). Numbers are redacted by their shape, whether or not their
checksum holds (a mistyped ID or card number is still personal data):

- e-mail addresses <EMAIL>;
- 18-character resident ID numbers (digits, last one may be X; spaces or dashes between the 6-8-4
  groups) <ID>, and 6+ characters after 身份证/证件 (15-digit and partial numbers);
- 16-19 digit bank cards, plain or in groups of four, and 6+ digits after 银行卡/卡号/账号 <CARD>;
- mobile numbers (1[3-9] + 9 digits, or 8 when one was dropped; optionally +86/0086/(86), spaces or
  dashes anywhere) <PHONE>, and 7+ digits after 电话/手机/号码/来电/回电/致电/拨打/打/联系方式/tel/phone
  (landlines without area code, mistyped numbers);
- landlines with an area code (010-12345678, (0755)1234 5678, 0571-8888 6666转123) <TEL>;
- licence plates incl. new-energy ones (京A12345, 粤B·D12345, 沪AD12345) <PLATE>;
- passport and travel-permit numbers (E12345678, EA1234567, G12345678; anything after 护照/通行证)
  <PASSPORT>;
- QQ numbers after QQ/扣扣 <QQ>; WeChat ids after 微信/wechat/weixin/wx/vx <WECHAT>;
- names: after 姓名/联系人/来电人/... followed by a colon (any 2-4 Chinese characters or a Latin name),
  after 我叫/名叫/本人叫/联系人/... (a common surname and up to two more characters), after 我姓/免贵姓
  (the surname), and before a form of address (黄先生, 欧阳女士, 王师傅, 李阿姨, 张三丰先生) <NAME>.
  The cue and the form of address are kept ("<NAME>先生"). A few words whose last character is also a
  surname (谢谢, 对方, 旁边, 主任 ...) are protected, so "谢谢师傅" and "对方阿姨" stay as they are;
  plural forms of address (先生们, 女士们) have no surname before them and are left alone.

Ordinary numbers stay: dates, times, amounts (3000元), house numbers (5栋302), the 12345 hotline.
What is *not* caught (names without a cue, addresses, free-form identifiers) is listed in
docs/OPERATIONS.md, "Personal data".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import polars as pl

from core.scrub import scrub_text, scrub_text_expr

PLACEHOLDERS: tuple[str, ...] = (  # each ends in D, E, L, Q or T before the '>' (see B below)
    "<ID>", "<PHONE>", "<TEL>", "<EMAIL>", "<CARD>", "<PLATE>", "<NAME>", "<QQ>", "<WECHAT>", "<PASSPORT>",
)  # fmt: skip


# ---- character classes (ASCII and full-width forms) ---------------------------------------------------
def _escape(char: str) -> str:
    """A character inside [...] for both engines (Rust also treats '&&', '--' and '~~' as set operators)."""
    return "\\" + char if char in "\\]-[^&~" else char


def _cls(ranges: str, extra: str = "", *, fold_case: bool = False, negate: bool = False) -> str:
    """A character class of ASCII characters and ranges ("A-HJ-NP-Z0-9", "CDE"), their full-width twins
    (U+FF01-U+FF5E), both cases with `fold_case`, plus the `extra` characters as they are."""
    pairs = [(lo, hi or lo) for lo, hi in re.findall(r"(.)(?:-(.))?", ranges)]
    if fold_case:
        pairs += [(lo.swapcase(), hi.swapcase()) for lo, hi in pairs if lo.isalpha()]
    pairs += [(chr(ord(lo) + 0xFEE0), chr(ord(hi) + 0xFEE0)) for lo, hi in pairs]
    body = "".join(f"{_escape(lo)}-{_escape(hi)}" for lo, hi in pairs) + "".join(map(_escape, extra))
    return f"[{'^' if negate else ''}{body}]"


def _han_except(excluded: str) -> str:
    """CJK unified ideographs (U+4E00-U+9FFF) without the `excluded` characters, as one class."""
    parts, start = [], 0x4E00
    for code in sorted({ord(char) for char in excluded}) + [0xA000]:
        if code > start:
            parts.append(chr(start) if code - 1 == start else f"{chr(start)}-{chr(code - 1)}")
        start = code + 1
    return "[" + "".join(parts) + "]"


def _literal(chars: str) -> str:
    """A case-insensitive ASCII word with its full-width forms: "qq" -> [qQｑＱ][qQｑＱ]."""
    return "".join(_cls(f"{c}-{c}", fold_case=True) for c in chars)


D = _cls("0-9")  # a digit
NOT_D = _cls("0-9", negate=True)
# The left edge of a number (group 1, kept: Rust's regex has no look-behind). Digits right after a
# placeholder (a '>' after the last letter of one) are the rest of a number already redacted and are left
# alone, so that a second pass finds nothing new.
B = f"(^|[^DELQT]>|{_cls('0-9', '>', negate=True)})"
B_ALNUM = f"(^|[^DELQT]>|{_cls('0-9A-Za-z', '>', negate=True)})"
SP = "[ \t\u3000\u00a0]"
SEP = "[ \t\u3000\u00a0\\-\uff0d\u2010\u2011\u2012\u2013\u2014\u2015]"  # spaces and dashes
COLON = f"{SP}*[:：是为]?{SP}*"
LETTER = _cls("A-Z", fold_case=True)
ALNUM = _cls("A-Z0-9", fold_case=True)
HAN = "[\u4e00-\u9fff]"

# Common surnames: two-character ones first; characters that mostly end other words before a form of
# address or are place-name suffixes (安 of 保安, 车 of 修车, 位 of 这位, 苑 of 桂花苑, 于, 和 ...) are
# left out.
DOUBLE_SURNAMES = (
    "欧阳", "司马", "上官", "诸葛", "皇甫", "尉迟", "公孙", "慕容", "令狐", "夏侯", "司徒", "长孙", "宇文",
    "端木", "申屠", "轩辕", "西门", "南宫",
)  # fmt: skip
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许韩冯邓曹彭曾田董潘袁蔡蒋余杜叶程魏苏吕丁沈任姚卢"
    "傅钟姜崔谭廖范汪陆金石贾夏邱方侯邹熊孟秦白江薛尹段雷黎史龙陶贺顾毛郝龚邵万钱严武莫孔汤戴覃韦付常温康"
    "施牛樊葛邢齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕季裴霍涂苗谷盛曲翁"
    "冉骆蓝游辛靳柴蒙鲍华喻祁蒲滕屈饶解牟艾尤阳穆卓古吉缪项连芦麦褚娄窦岑景宫卜晏席柏宗瞿桂佟臧闵苟邬卞姬"
    "仇栾隋刁荣巫寇桑郎甄丛仲虞敖巩佘迟邝匡鞠惠荆冀郁胥储栗燕楚鄢谌奚皮粟冼蔺闻厉伊仝郜阚权帅屠朴廉禹祖"
    "漆丰卿狄宣晋芮阙浦鹿薄邸雍辜裘亓邰赫杭况逯诸嵇湛"
)
SURNAME = "(?:" + "|".join(DOUBLE_SURNAMES) + f"|[{SURNAMES}])"
# Characters that end a name: particles, verbs, forms of address and place suffixes (桂花苑白先生) that
# follow or precede names in reports.
_NAME_STOPS = (
    "的了着过是在和与说称讲问要请让把被给向对从到于就都也还又再才已将会先女士师们住电话号反映表打拨联系"
    "苑坊村区栋楼室路街巷弄"
)
GIVEN = _han_except(_NAME_STOPS)
TITLES = (
    "先生", "女士", "小姐", "师傅", "阿姨", "大爷", "大妈", "大姐", "大哥", "大叔", "奶奶", "爷爷", "老师",
    "老板", "经理", "主任", "医生", "警官", "同志", "书记", "老伯", "伯伯", "叔叔", "阿婆", "婆婆", "老太",
)  # fmt: skip
# Words ending in a surname character that come before a form of address without naming anyone (and
# forms of address ending in one: 师傅徐女士); they are swapped for marker characters (noncharacters,
# which scrub_text removes from any input) around the name rules. At most 30 (U+FDD2-U+FDEF).
NOT_NAMES = (
    "师傅", "主任", "谢谢", "感谢", "多谢", "对方", "双方", "地方", "旁边", "身边", "周边", "那边", "这边",
    "路边", "亲戚", "班主任", "责任", "前任", "现任", "新任", "历史", "园林", "欠钱", "要钱", "收钱", "付钱",
    "押金", "租金", "调解", "处方",
)  # fmt: skip
_MARKERS = tuple(chr(0xFDD2 + i) for i in range(len(NOT_NAMES)))
assert len(NOT_NAMES) <= 30
_PROTECTED_TITLES = [marker for word, marker in zip(NOT_NAMES, _MARKERS, strict=True) if word in TITLES]
_TITLE = "(" + "|".join([*TITLES, *_PROTECTED_TITLES]) + ")"

_PHONE_CUES = f"电话|手机|号码|来电|回电|致电|拨打|打|联系方式|{_literal('tel')}|{_literal('phone')}"
_NAME_CUES = "姓名|名字|联系人|报案人|报警人|举报人|投诉人|来电人|反映人|当事人|申请人|收件人|户主"
_ID_CHAR = _cls("0-9X", fold_case=True)
_EXTENSION = (
    f"(?:{SEP}{{0,3}}(?:转|分机|{_literal('ext')}\\.?|[xX#＃]){SEP}{{0,3}}{D}{{1,6}}|[\\-－]{D}{{1,6}})"
)


@dataclass(frozen=True)
class Rule:
    name: str
    pattern: str
    replacement: str  # "{1}" keeps group 1
    needs_digit: bool = False  # a cheap pre-check for the Python path

    @property
    def python(self) -> tuple[re.Pattern[str], str]:
        return re.compile(self.pattern), re.sub(r"\{(\d)\}", r"\\g<\1>", self.replacement)

    @property
    def polars(self) -> str:
        return re.sub(r"\{(\d)\}", r"${\1}", self.replacement)


def _cue(words: str) -> str:
    """A cue word, then optionally 号/号码, a colon, 是 or 为 (all kept, as group 1)."""
    return f"((?:{words})(?:号码|号)?{COLON})"


RULES: tuple[Rule, ...] = (
    Rule(
        "email",
        # any domain, even cut short ("wang@qq.c"); digits after it are taken along ("a@b.com138...")
        f"{_cls('A-Z0-9', '._%+-', fold_case=True)}{{1,64}}[@＠]{_cls('A-Z0-9', '-', fold_case=True)}{{1,63}}"
        f"(?:[.．]{_cls('A-Z0-9', '-', fold_case=True)}{{1,63}}){{0,8}}",
        "<EMAIL>",
    ),
    # what a cue announces, in any shape; first, so that no cue value is left to be the left edge of a
    # number found on a second pass ("来电号码：1373378561(010)..." stays redacted the same)
    Rule("id_cue", f"{_cue('身份证|证件')}({D}(?:{SEP}?{_ID_CHAR}){{5,}})", "{1}<ID>", needs_digit=True),
    Rule(
        "card_cue",
        f"{_cue('银行卡|信用卡|卡号|银行账户|账户|账号|帐号')}({D}(?:{SEP}?{D}){{5,}})",
        "{1}<CARD>",
        needs_digit=True,
    ),
    Rule(
        "phone_cue",
        f"{_cue(_PHONE_CUES)}([1-9１-９](?:{SEP}{{0,3}}{D}){{6,}})",  # 0...: a landline, below
        "{1}<PHONE>",
        needs_digit=True,
    ),
    Rule("qq", f"{_cue(_literal('qq') + '|扣扣')}({D}{{5,12}})", "{1}<QQ>", needs_digit=True),
    Rule(
        "wechat",
        f"{_cue('微信|' + '|'.join(_literal(w) for w in ('wechat', 'weixin', 'wx', 'vx')))}"
        f"({LETTER}{_cls('A-Z0-9', '_-', fold_case=True)}{{5,19}}|{D}{{5,}})",
        "{1}<WECHAT>",
    ),
    Rule("passport_cue", f"{_cue('护照|通行证')}({ALNUM}{{5,12}})", "{1}<PASSPORT>"),
    Rule("plate_cue", f"{_cue('车牌')}({ALNUM}(?:[·•・．.]?{ALNUM}){{4,7}})", "{1}<PLATE>"),
    # exactly 18 characters (group 3 checks the end: Rust has no look-ahead), so a 19-digit card is a card
    Rule(
        "id",
        f"{B}([1-9１-９]{D}{{5}}{SEP}?{D}{{8}}{SEP}?{D}{{3}}{_ID_CHAR})({NOT_D}|$)",
        "{1}<ID>{3}",
        needs_digit=True,
    ),
    Rule(  # a trailing D* takes the rest of a longer run, so no digit of it is left to match again
        "card",
        f"{B}({D}{{4}}(?:{SEP}?{D}{{4}}){{3}}(?:{SEP}?{D}{{1,3}})?{D}*)",
        "{1}<CARD>",
        needs_digit=True,
    ),
    Rule(
        "mobile",
        # 10 digits too: a mobile with a digit missing is still one
        f"{B}((?:[(（]?(?:[+＋]|00|００)?[8８][6６][)）]?{SEP}{{0,3}})?[1１][3-9３-９](?:{SEP}{{0,3}}{D}){{8,9}})",
        "{1}<PHONE>",
        needs_digit=True,
    ),
    Rule(
        "landline",
        f"{B}((?:[(（][0０]{D}{{2,3}}[)）]|[0０]{D}{{2,3}}){SEP}{{0,3}}{D}{{3,4}}{SEP}?{D}{{4}}{_EXTENSION}?)",
        "{1}<TEL>",
        needs_digit=True,
    ),
    Rule(
        "plate",
        f"[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼]{_cls('A-HJ-NP-Z', fold_case=True)}"
        f"{SEP}?[·•・．.]?{SEP}?{_cls('A-HJ-NP-Z0-9', fold_case=True)}{{4,5}}"
        f"(?:{_cls('A-HJ-NP-Z0-9', fold_case=True)}|[挂学警港澳])",
        "<PLATE>",
    ),
    Rule(
        "passport",
        f"{B_ALNUM}({_cls('CDEGHKMPS', fold_case=True)}(?:{D}{{8}}|{LETTER}{D}{{7}}))",
        "{1}<PASSPORT>",
        needs_digit=True,
    ),
    # names (between the NOT_NAMES swap and its undoing)
    Rule(
        "name_after_colon",
        f"((?:{_NAME_CUES}|{_literal('name')}){SP}*[:：]{SP}*)"
        f"({HAN}{{2,4}}(?:[·•・]{HAN}{{1,6}})?|{LETTER}{{1,20}}(?:{SP}{LETTER}{{1,20}}){{0,2}})",
        "{1}<NAME>",
    ),
    Rule(
        "name_after_cue",
        f"((?:我叫|名叫|我的名字叫|我的名字是|本人叫|本人是|本人姓名|{_NAME_CUES}){SP}*[是为叫]?{SP}*)"
        f"({SURNAME}{GIVEN}{{1,2}})",  # a bare surname here is a verb more often (当事人申请)
        "{1}<NAME>",
    ),
    Rule("surname_after_cue", f"((?:我姓|本人姓|免贵姓|他姓|她姓){SP}*)({SURNAME}|{HAN})", "{1}<NAME>"),
    Rule("name_before_title", f"{SURNAME}{GIVEN}{{0,2}}(先生|女士|小姐)", "<NAME>{1}"),
    Rule("surname_before_title", f"{SURNAME}{_TITLE}", "<NAME>{1}"),
)
_FIRST_NAME_RULE = next(i for i, rule in enumerate(RULES) if rule.name.startswith("name"))
_HAS_DIGIT = re.compile(D)
_PYTHON_RULES = [(rule, *rule.python) for rule in RULES]
_PROTECT_RE = re.compile("|".join(map(re.escape, NOT_NAMES)))
_RESTORE_RE = re.compile(f"[{''.join(_MARKERS)}]")
_MARKER_OF = dict(zip(NOT_NAMES, _MARKERS, strict=True))
_WORD_OF = dict(zip(_MARKERS, NOT_NAMES, strict=True))


# ---- the two engines -----------------------------------------------------------------------------------
def redact_pii(text: str) -> str:
    """``text`` (raw or normalised) with personal data replaced by placeholders. Total over ``str``
    (scrubbed first, see ``core.scrub``) and idempotent."""
    text = scrub_text(text)
    has_digit = _HAS_DIGIT.search(text) is not None
    for position, (rule, pattern, replacement) in enumerate(_PYTHON_RULES):
        if position == _FIRST_NAME_RULE:
            text = _protect(text)
        if has_digit or not rule.needs_digit:
            text = pattern.sub(replacement, text)
    return _restore(text)


def redaction_matches(text: str) -> list[tuple[str, str]]:
    """(rule name, what it replaced) for each redaction in ``text``, in the order :func:`redact_pii`
    makes them: to review what redaction does to a corpus (``gridsense benchmark redaction``)."""
    text, found = scrub_text(text), []
    for position, (rule, pattern, replacement) in enumerate(_PYTHON_RULES):
        if position == _FIRST_NAME_RULE:
            text = _protect(text)
        kept = {int(group) for group in re.findall(r"\{(\d)\}", rule.replacement)}
        redacted = [group for group in range(1, pattern.groups + 1) if group not in kept][:1] or [0]
        for match in pattern.finditer(text):
            value = match.group(redacted[0])
            found.append((rule.name, _restore(value)))
        text = pattern.sub(replacement, text)
    return found


def redact_pii_expr(column: str | pl.Expr) -> pl.Expr:
    """Polars version of :func:`redact_pii` (nulls stay null): one native regex pass per rule."""
    expr = scrub_text_expr(pl.col(column) if isinstance(column, str) else column)
    for position, rule in enumerate(RULES):
        if position == _FIRST_NAME_RULE:
            expr = expr.str.replace_many(list(NOT_NAMES), list(_MARKERS))
        expr = expr.str.replace_all(rule.pattern, rule.polars)
    return expr.str.replace_many(list(_MARKERS), list(NOT_NAMES))


def redact_pii_value(value: Any) -> Any:
    """Every string inside `value` (dict keys and values, list and tuple items) redacted; other values
    as they are. For structured logs and audit records."""
    if isinstance(value, str):
        return redact_pii(value)
    if isinstance(value, dict):
        return {redact_pii_value(key): redact_pii_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_pii_value(item) for item in value]
    return value


def _protect(text: str) -> str:
    """NOT_NAMES -> markers, leftmost first like polars' replace_many."""
    return _PROTECT_RE.sub(lambda match: _MARKER_OF[match.group()], text)


def _restore(text: str) -> str:
    return _RESTORE_RE.sub(lambda match: _WORD_OF[match.group()], text)

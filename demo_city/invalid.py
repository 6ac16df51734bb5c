"""Invalid reports of the demo city: not actionable, but sent in anyway (the plan counts 23% of reports).

Seven reasons (``INVALID_REASONS``, the event-log contract's ``invalid_reason`` values): empty, gibberish,
test, advertising, abuse, thanks (thanks only, nothing reported) and out_of_scope. Each reason has
templates (the template syntax of ``texts``: ``{phone}``, ``[a|b]``) or a generator; about a third of each
reason's templates are *late* (picked by a hash of the text, like ``bank.mark_late``) and used only in the
last part of the period, so a time split tests the invalid-report model on phrasings it never saw.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from features.schema import INVALID_REASONS

# How often each reason occurs among invalid reports (sums to 1).
REASON_SHARES: dict[str, float] = {
    "empty": 0.14,
    "gibberish": 0.12,
    "test": 0.12,
    "advertising": 0.16,
    "abuse": 0.10,
    "thanks": 0.18,
    "out_of_scope": 0.18,
}
assert set(REASON_SHARES) == set(INVALID_REASONS)
LATE_SHARE = 1 / 3
# Channels invalid reports come through: apps and hotline calls, rarely a grid worker's test entry.
CHANNEL_SHARES: dict[str, float] = {"app": 0.62, "hotline": 0.33, "grid_worker": 0.05}
NO_TITLE_SHARE = 0.35

TEMPLATES: dict[str, tuple[str, ...]] = {
    "empty": (
        "无",
        "。",
        "。。。",
        "？",
        "？？？",
        "空",
        "没有",
        "1",
        "11",
        "a",
        "…",
        "[图片]",
        "[语音]",
        "[表情]",
        "详见附件",
        "如题",
        "如上",
        "内容见标题",
        "见图片",
        "[视频]",
        "略",
        "——",
        "。？",
        "[文件]",
        "0",
        "无内容",
        "同上",
        "  。",
        "[动画表情]",
        "（空）",
    ),
    "test": (
        "测试",
        "测试一下",
        "测试数据，请忽略",
        "test",
        "TEST123",
        "这是一条测试工单",
        "系统测试，无需处理",
        "测试测试",
        "ceshi",
        "试一下能不能提交",
        "调试用，勿派单",
        "演示数据请勿处理",
        "testing 1 2 3",
        "内部培训测试件",
        "看看这个功能好不好用",
        "测试{count}",
        "新系统上线测试，不用回复",
        "test test",
        "培训演示用，请直接办结",
        "我就是试试这个能不能用",
        "[测试]请忽略本条",
        "验证一下提交流程",
    ),
    "advertising": (
        "{company}专业疏通下水道、管道，价格优惠，电话{phone}",
        "低息贷款，当天放款，联系{phone}",
        "高价回收旧家电、空调、电脑，上门服务，{phone}",
        "{shop}开业大酬宾，全场八折，欢迎光临",
        "办理各类证件，加微信详谈",
        "兼职刷单日赚三百，详询{phone}",
        "专业开锁换锁，二十四小时服务，{phone}",
        "房屋出租，精装修拎包入住，有意者联系{phone}",
        "家政保洁上门，钟点工包月都行，电话{phone}",
        "考驾照包过，名额有限，速来报名",
        "代写论文、代办学历，私聊",
        "新楼盘特价房首付五万起，看房热线{phone}",
        "空调清洗加氟，一次只要59元，{phone}",
        "{company}承接各类装修工程，免费上门量房",
        "正品名表名包一折起，加微信了解",
        "无抵押信用贷款，额度高利息低，{phone}",
        "{shop}会员充值送好礼，充五百送一百",
        "专业搬家，价格实惠，{phone}",
        "招聘兼职打字员，在家就能做，日结工资",
        "治疗颈椎病腰椎病，祖传秘方，包好",
    ),
    "abuse": (
        "你们都是废物",
        "一群饭桶，什么都不管",
        "打了一百遍电话有什么用，垃圾",
        "滚",
        "你们这些吃干饭的",
        "什么破热线，垃圾",
        "懒得说了，一帮废物",
        "有病吧你们",
        "浪费纳税人的钱，一群蛀虫",
        "你们脑子进水了吧",
        "全是摆设，没一个有用的",
        "骗子，全是骗子",
        "你们就会踢皮球，恶心",
        "去你的，不想说了",
        "一帮混日子的，滚蛋",
        "什么玩意儿，垃圾部门",
        "傻子才信你们",
        "你们接电话的是机器人吧，废物",
    ),
    "thanks": (
        "谢谢",
        "好的，谢谢",
        "问题已经解决了，谢谢",
        "收到，谢谢你们",
        "辛苦了",
        "感谢感谢",
        "没事了，谢谢",
        "已经好了，不用来了，谢谢",
        "多谢多谢，已处理好",
        "了解了，麻烦了",
        "OK谢谢",
        "好的知道了",
        "谢谢你们的回复",
        "已经处理了，谢谢关心",
        "好的好的，辛苦",
        "谢谢啊",
        "知道了，谢谢工作人员",
        "收到回复了，非常感谢",
        "没问题了，谢谢",
        "满意，谢谢",
    ),
    "out_of_scope": (
        "明天天气怎么样",
        "附近哪里有好吃的火锅",
        "帮我查一下快递到哪了",
        "彩票中奖号码是多少",
        "我手机话费怎么充",
        "推荐一部好看的电视剧",
        "帮我订一张去北京的火车票",
        "我家猫不吃饭怎么办",
        "今天股市怎么样",
        "世界杯决赛几点开始",
        "帮我写一首诗",
        "怎么减肥最快",
        "哪个牌子的手机好用",
        "查一下星座运势",
        "红烧肉怎么做好吃",
        "帮我找个对象",
        "这道数学题怎么做",
        "你是男的还是女的",
        "能陪我聊聊天吗",
        "我想知道明星的电话号码",
        "哪家医院整容好",
        "周末去哪里玩比较好",
        "帮我算一下八字",
        "淘宝买的东西怎么退货",
        "游戏充值了没到账怎么办",
    ),
}
GIBBERISH_CHARS = "的一是了我不人在他有这个上们来到时大地为子中你说生国年着就那和要她出也得里后自以会"
KEYBOARD = "qwertyuiopasdfghjklzxcvbnm"
SYMBOLS = "@#￥%……&*（）！~·$^_+=<>/"


def _cjk_noise(rng: random.Random) -> str:
    return "".join(rng.choice(GIBBERISH_CHARS) for _ in range(rng.randint(4, 18)))


def _keyboard_mash(rng: random.Random) -> str:
    row = rng.choice(("asdfghjkl", "qwertyuiop", "zxcvbnm", KEYBOARD))
    return "".join(rng.choice(row) for _ in range(rng.randint(4, 16)))


def _repeated(rng: random.Random) -> str:
    return rng.choice("啊哈嗯哦呵额") * rng.randint(3, 12)


def _digits(rng: random.Random) -> str:
    return "".join(rng.choice("0123456789") for _ in range(rng.randint(3, 12)))


def _symbols(rng: random.Random) -> str:
    return "".join(rng.choice(SYMBOLS) for _ in range(rng.randint(3, 10)))


def _mixed(rng: random.Random) -> str:
    pool = KEYBOARD + "0123456789"
    return "".join(rng.choice(pool) for _ in range(rng.randint(5, 12)))


def _fullwidth(rng: random.Random) -> str:
    return "".join(chr(ord(c) + 0xFEE0) for c in _keyboard_mash(rng))


def _pinyin(rng: random.Random) -> str:
    words = ("ni", "hao", "wo", "shi", "de", "ma", "a", "zhe", "ge", "bu", "zhi", "dao", "la")
    return " ".join(rng.choice(words) for _ in range(rng.randint(2, 6)))


GIBBERISH: dict[str, Callable[[random.Random], str]] = {
    "cjk": _cjk_noise,
    "keyboard": _keyboard_mash,
    "repeated": _repeated,
    "digits": _digits,
    "symbols": _symbols,
    "mixed": _mixed,
    "fullwidth": _fullwidth,
    "pinyin": _pinyin,
}
LATE_GIBBERISH = frozenset({"symbols", "fullwidth", "pinyin"})
TITLES = ("无", "测试", "问题", "反映", "咨询", "你好", "求助", "投诉", "随手拍", "无标题", "。")


def _is_late(reason: str, text: str) -> bool:
    digest = hashlib.sha256(f"invalid:{reason}\n{text}".encode()).digest()
    return digest[0] < 256 * LATE_SHARE


@dataclass(frozen=True)
class InvalidReport:
    title: str | None
    text: str
    reason: str
    template_id: str


class InvalidWriter:
    """Writes invalid reports; ``fill`` expands a template's slots (``TextEngine.fill`` in practice)."""

    def __init__(self, rng: random.Random, late_from: datetime | None) -> None:
        self.rng = rng
        self.late_from = late_from

    def write(self, reason: str, when: datetime, fill: Callable[[str], str]) -> InvalidReport:
        rng = self.rng
        late_ok = self.late_from is None or when >= self.late_from
        if reason == "gibberish":
            kinds = [k for k in GIBBERISH if late_ok or k not in LATE_GIBBERISH]
            kind = rng.choice(kinds)
            text, template_id = GIBBERISH[kind](rng), f"invalid:gibberish:{kind}"
        else:
            pool = TEMPLATES[reason]
            usable = [i for i, t in enumerate(pool) if late_ok or not _is_late(reason, t)]
            index = rng.choice(usable)
            text, template_id = fill(pool[index]), f"invalid:{reason}:{index}"
        text = self._noisy(text)
        title = None if rng.random() < NO_TITLE_SHARE else self._title(reason, text)
        return InvalidReport(title, text, reason, template_id)

    def _noisy(self, text: str) -> str:
        rng = self.rng
        draw = rng.random()
        if draw < 0.1:
            text = text + rng.choice(("！", "！！", "。", "?", "~"))
        elif draw < 0.15 and len(text) > 3:
            text = text.replace("，", " ")
        return text if text.strip() else "。"

    def _title(self, reason: str, text: str) -> str:
        rng = self.rng
        if reason in ("test", "thanks", "abuse") and rng.random() < 0.5:
            return text[: rng.randint(2, 8)]
        return rng.choice(TITLES)


def is_late_template(template_id: str) -> bool:
    """An invalid-report template used only from ``late_from`` on (``invalid:<reason>:<index|kind>``)."""
    _, reason, key = template_id.split(":", 2)
    if reason == "gibberish":
        return key in LATE_GIBBERISH
    return _is_late(reason, TEMPLATES[reason][int(key)])

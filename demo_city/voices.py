"""What kind of report a leaf gets: a complaint, a question, praise ... and the sentences that suit it.

A leaf's *register* decides how its reports are framed and padded: a pension question is 咨询 and ends with
"麻烦解答一下", a family dispute asks for 调解, a broken manhole sounds urgent and asks for 维修, praise gets
no complaints at all. Registers come from keywords in the leaf's names (L3 first, then L2, then L1) and
from its risk group, so every taxonomy gets one. A few *tones* (noise, repairs) add sentences on top.

Strings use the template syntax (``{slot}``, ``[a|b]``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from functools import cache

from features.taxonomy import Leaf

# Checked against the L3 name, then L2, then L1: the first register with a matching keyword wins.
# Praise and suggestions beat the risk group; the others only apply to leaves of risk group "none".
LEADING_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("praise", ("表扬", "感谢", "点赞")),
    ("suggestion", ("建议",)),
)
KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("complaint", ("投诉",)),
    ("inquiry", ("咨询", "政策")),
    ("repair", ("故障", "损坏", "破损", "停水", "停电", "暖气", "供暖", "堵塞", "水质", "路灯")),
    (
        "service",
        ("社会保障", "养老", "托育", "教育", "入学", "就业", "创业", "缴费", "证明", "卫生服务", "疫苗",
         "小区改造", "加装电梯", "其他事项", "申请", "办理", "补贴"),
    ),
)
RISK_GROUP_REGISTERS = {"dispute": "dispute", "hazard": "hazard"}
DEFAULT_REGISTER = "complaint"
# Tones add sentences to a register: keywords anywhere in L2/L3.
TONE_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("noise", ("噪音", "噪声", "油烟", "异味", "吵闹")),
    ("repair", ("故障", "损坏", "破损", "老化", "塌陷")),
)
# Registers in which the reporter asks or thanks rather than complains: a grid worker hears them from
# residents instead of finding them on patrol, and short reports carry no place prefix.
CALM_REGISTERS = frozenset({"praise", "suggestion", "inquiry", "service"})
# Registers whose background sentences follow the body: a question starts with the question.
BACKGROUND_AFTER = frozenset({"praise", "suggestion", "inquiry"})
# Only these leaves may mention a licence plate in padding.
VEHICLE_KEYWORDS = ("车", "交通", "停车", "拥堵", "出租", "驾驶")


@dataclass(frozen=True)
class Voice:
    """Sentences for one register or tone; a leaf's voice concatenates its register's and tones'."""

    request: tuple[str, ...] = ()  # {request}: the caller's 诉求, as an object of 诉求/希望/要求
    request_sentence: tuple[str, ...] = ()  # {request_sentence}: the same as a sentence; app padding
    action: tuple[str, ...] = ()  # {action}: what the grid worker did
    emotion: tuple[str, ...] = ()  # {emotion}: how the reporter feels; padding
    repeat: tuple[str, ...] = ()  # padding: asked before, nothing happened
    background: tuple[str, ...] = ()  # padding before the body: who is reporting
    closer: tuple[str, ...] = ()  # colloquial endings of app and hotline texts
    short_ending: tuple[str, ...] = ()  # how a few-word report ends

    def __add__(self, other: Voice) -> Voice:
        return Voice(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(Voice)})


IDENTITY_BACKGROUNDS = (  # who is asking: fits any report
    "我是这里的租户", "我是{estate}的业主", "我们这边是{district}的", "家里有老人和小孩",
    "我在这个小区住了十几年了",
)
NEUTRAL_BACKGROUNDS = IDENTITY_BACKGROUNDS + (
    "我家就住在{floor}", "我们这栋楼都是老住户", "附近住的老人比较多", "我爱人身体不好，刚做完手术在家休养",
)
COMPLAINT_BACKGROUNDS = (
    "我们这栋楼一共六层，住的基本都是退休老人，平时大家关系都还可以",
    "这个小区是老小区", "我每天上下班都经过这里", "这里离学校很近",
    "我们是{duration}前搬过来的，刚来的时候还好，最近越来越严重", "我在{road}开了个小店，每天都在这边",
)
REPEATS = (
    "已经反映过好几次了一直没人处理", "之前打过12345但问题没有解决", "找过社区也没有结果",
    "这个问题都{duration}了", "上个月投诉过一次", "{agency}来看过一次就没下文了", "之前也有人反映过",
    "不是第一次了", "上个月{date}就打过电话，当时说会处理，结果到现在也没人来",
    "社区的工作人员来看过，说要协调，之后就没有消息了",
    "我们楼里好几户都打过电话，每次都是登记一下就没下文了", "{agency}说要等上面批准，也不知道要等到什么时候",
)
SERVICE_REPEATS = (
    "之前打过12345但问题没有解决", "找过社区也没有结果", "跑了好几个部门都说不归他们管",
    "打电话问了好几次都说在审核", "{agency}说要等上面批准，也不知道要等到什么时候",
    "上个月{date}就打过电话，当时说会处理，结果到现在也没人来", "材料已经交了{duration}了",
)
CLOSERS = ("啊", "呀", "！！", "，谢谢", "，麻烦了", "哈", "。。。")
URGENT_CLOSERS = ("，急", "！！！", "，快点来人")
COMPLAINT_ENDINGS = ("", "", "。", "！", "，请处理", "，速来")

VOICES: dict[str, Voice] = {
    "complaint": Voice(
        request=(
            "尽快派人处理", "相关部门核实处理", "尽快解决", "有关部门管一管", "尽快到现场查看", "依法处理",
            "加强管理", "彻底整治", "落实整改", "加强巡查", "给予答复",
        ),
        request_sentence=(
            "希望尽快派人处理", "请相关部门核实处理", "要求尽快解决", "希望有关部门管一管",
            "请尽快安排人员到现场查看", "请依法处理", "希望加强管理", "要求彻底整治", "请尽快回复",
        ),
        action=(
            "已拍照取证，需相关部门处置", "已现场劝导，效果不明显", "已上报街道", "已登记，待协调处理",
            "已联系相关责任人", "已劝离，但反复出现", "需职能部门到场处理", "已通知社区，持续跟踪",
        ),
        emotion=(
            "真的很气人", "大家意见很大", "居民怨气很大", "太不像话了", "非常影响生活",
            "说实话我们也不想一直打电话，但是实在是没办法了", "再没人管我们只能找媒体了",
        ),
        repeat=REPEATS,
        background=NEUTRAL_BACKGROUNDS + COMPLAINT_BACKGROUNDS,
        closer=CLOSERS + URGENT_CLOSERS,
        short_ending=COMPLAINT_ENDINGS,
    ),
    "dispute": Voice(
        request=(
            "社区出面调解", "居委会协调解决", "给个说法", "组织双方调解", "依法处理", "尽快解决",
            "上门了解情况", "主持公道",
        ),
        request_sentence=(
            "希望社区出面调解", "请居委会帮忙协调", "希望给个说法", "希望组织双方当面谈一谈", "请依法处理",
            "要求尽快解决", "希望有人出面主持公道",
        ),
        action=(
            "已上门了解情况，双方分歧较大", "已组织初步调解，未达成一致", "已安抚当事人情绪，待社区调解",
            "已告知当事人可申请人民调解", "已登记，待协调处理", "已通知社区，持续跟踪", "已上报街道",
        ),
        emotion=(
            "实在受不了了", "真的很气人", "心里很憋屈", "太不像话了", "两家关系闹得很僵",
            "再这样下去怕闹出事来", "说实话我们也不想一直打电话，但是实在是没办法了",
        ),
        repeat=REPEATS + ("跟对方沟通过没用", "之前调解过一次，没几天又这样"),
        background=NEUTRAL_BACKGROUNDS,
        closer=CLOSERS + URGENT_CLOSERS,
        short_ending=("", "", "。", "，请调解", "，请处理"),
    ),
    "hazard": Voice(
        request=(
            "尽快排除隐患", "尽快到现场查看", "尽快派人处理", "加强巡查", "彻底整治", "落实整改",
            "相关部门核实处理",
        ),
        request_sentence=(
            "请尽快派人排查隐患", "希望尽快处理，别等出了事再管", "请相关部门尽快到现场查看", "要求彻底整改",
            "希望加强巡查",
        ),
        action=(
            "现场已设置警示，需尽快处置", "已拍照取证，需相关部门处置", "已告知物业，请职能部门跟进",
            "已疏散周边人员，需专业人员处置", "已联系相关责任人", "需职能部门到场处理", "已上报街道",
        ),
        emotion=(
            "再这样下去要出事的", "很担心安全", "老人孩子多，太危险了", "心里很着急", "真出了事谁负责",
            "大家都提心吊胆的",
        ),
        repeat=REPEATS,
        background=NEUTRAL_BACKGROUNDS + COMPLAINT_BACKGROUNDS,
        closer=CLOSERS + URGENT_CLOSERS,
        short_ending=("", "", "。", "！", "，请处理", "，速来", "，危险"),
    ),
    "repair": Voice(
        request=("尽快维修", "尽快派人修理", "尽快恢复", "上门处理", "尽快到现场查看", "给予答复"),
        request_sentence=(
            "希望尽快维修", "请尽快派人来修", "希望尽快恢复正常", "请安排人员上门检修",
            "请尽快回复什么时候能修好",
        ),
        action=(
            "已拍照取证，需相关部门处置", "已告知物业，请职能部门跟进", "已联系维修单位", "已上报街道",
            "需职能部门到场处理",
        ),
        emotion=(
            "非常影响生活", "心里很着急", "大家意见很大", "家里老人孩子都受影响",
            "说实话我们也不想一直打电话，但是实在是没办法了",
        ),
        repeat=REPEATS,
        background=NEUTRAL_BACKGROUNDS + COMPLAINT_BACKGROUNDS,
        closer=CLOSERS + URGENT_CLOSERS,
        short_ending=("", "", "。", "！", "，请维修", "，请处理"),
    ),
    "service": Voice(
        request=("核实答复", "协调解决", "尽快办理", "给予帮助", "给予答复", "帮忙问一下进度"),
        request_sentence=(
            "希望帮忙核实一下", "请相关部门给予答复", "希望尽快办理", "希望能给予帮助", "请尽快回复",
            "希望有人能说清楚",
        ),
        action=(
            "已登记，转相关部门答复", "已告知办理渠道", "已联系社区工作人员跟进", "已协助准备材料",
            "已登记，待协调处理",
        ),
        emotion=("心里很着急", "跑了好几趟了", "不知道该找谁", "希望能体谅一下"),
        repeat=SERVICE_REPEATS,
        background=NEUTRAL_BACKGROUNDS,
        closer=CLOSERS,
        short_ending=("", "", "。", "，谢谢", "，请回复"),
    ),
    "inquiry": Voice(
        request=("政策解答", "给予答复", "告知办理流程", "告知所需材料", "电话回复"),
        request_sentence=(
            "希望给予解答", "请相关部门答复", "麻烦告知一下办理流程", "想了解需要哪些材料", "请回电告知",
            "麻烦解答一下，谢谢",
        ),
        action=(
            "已现场解答", "已告知办理渠道", "已登记，转相关部门答复", "已发放政策宣传资料", "已告知咨询电话",
        ),
        emotion=("急着办", "比较着急", "网上查了半天也没看明白", "问了几个地方说法都不一样"),
        repeat=("网上查了没找到", "之前问过社区，说得不太清楚", "打过电话没人接", "窗口说的跟网上写的不一样"),
        background=IDENTITY_BACKGROUNDS,
        closer=("，谢谢", "，麻烦了", "，谢谢啦", "？", "，在线等"),
        short_ending=("", "？", "？", "，谢谢", "，请问怎么办"),
    ),
    "praise": Voice(
        request=("转达谢意", "对工作人员提出表扬", "通报表扬"),
        request_sentence=("希望转达谢意", "想对工作人员提出表扬", "特此表扬", "谢谢你们"),
        action=("已记录，转相关单位", "已转达居民谢意"),
        emotion=("真的很感动", "心里特别暖", "必须点个赞", "大家都很满意"),
        background=IDENTITY_BACKGROUNDS,
        closer=("！！", "，谢谢", "，点赞", "哈"),
        short_ending=("", "！", "，点赞", "，谢谢"),
    ),
    "suggestion": Voice(
        request=("采纳建议", "研究考虑", "给予答复"),
        request_sentence=("希望相关部门研究考虑", "希望能采纳", "仅供参考", "请考虑一下"),
        action=("已记录居民建议，转相关部门研究", "已登记，待反馈"),
        emotion=("大家都有这个需求", "很多居民都这么说"),
        repeat=("之前也有人提过", "业主群里大家都在说这个"),
        background=IDENTITY_BACKGROUNDS + ("附近住的老人比较多", "我每天上下班都经过这里"),
        closer=("，谢谢", "，麻烦了", "，希望采纳"),
        short_ending=("", "。", "，谢谢", "，希望采纳"),
    ),
}
TONES: dict[str, Voice] = {
    "noise": Voice(
        request=("尽快制止", "依法查处"),
        request_sentence=("希望尽快制止", "请依法查处"),
        emotion=("晚上根本睡不着", "实在受不了了", "老人孩子都受影响，全家人都很焦虑"),
        background=(
            "我家孩子今年要中考，晚上需要安静的环境学习", "我平时上夜班，白天要在家睡觉", "这边晚上人很多",
        ),
    ),
    "repair": Voice(
        request=("尽快维修", "尽快修复"),
        request_sentence=("希望尽快维修", "请尽快派人来修"),
        action=("已联系维修单位",),
    ),
}


@cache
def register(leaf: Leaf) -> str:
    """The leaf's register: praise, suggestion, dispute, hazard, complaint, inquiry, repair or service."""
    found = _keyword_register(leaf, LEADING_KEYWORDS)
    if found is None:
        found = RISK_GROUP_REGISTERS.get(leaf.risk_group) or _keyword_register(leaf, KEYWORDS)
    return found or DEFAULT_REGISTER


def tones(leaf: Leaf) -> tuple[str, ...]:
    names = f"{leaf.l2}/{leaf.l3}"
    own = register(leaf)
    return tuple(
        tone for tone, words in TONE_KEYWORDS if tone != own and any(word in names for word in words)
    )


@cache
def voice(leaf: Leaf | None) -> Voice:
    """The sentences that suit the leaf's reports (the complaint voice when there is no leaf)."""
    if leaf is None:
        return VOICES[DEFAULT_REGISTER]
    combined = VOICES[register(leaf)]
    for tone in tones(leaf):
        combined = combined + TONES[tone]
    return combined


def mentions_vehicles(leaf: Leaf) -> bool:
    return any(word in name for name in (leaf.l1, leaf.l2, leaf.l3) for word in VEHICLE_KEYWORDS)


def _keyword_register(leaf: Leaf, table: Sequence[tuple[str, tuple[str, ...]]]) -> str | None:
    for name in (leaf.l3, leaf.l2, leaf.l1):
        for name_register, words in table:
            if any(word in name for word in words):
                return name_register
    return None

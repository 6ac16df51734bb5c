"""How reports are written, apart from what they are about: framings per channel and register, padding
kinds, colloquial fillers, typos, vague reports, sensor alarms and the fallback for leaves without templates.

Strings use the same syntax as templates (``{slot}``, ``[a|b]``); framings also get ``{body}`` (the
report's core) and the style slots in ``STYLE_SLOTS`` (filled from the leaf's voice, see ``voices``);
fallbacks get ``{l1}``, ``{l2}`` and ``{l3}``.
"""

from __future__ import annotations

from demo_city.voices import DEFAULT_REGISTER, VOICES

FRAMES: dict[str, tuple[str, ...]] = {
    # 话务员记录: the operator's summary of a 12345 call
    "hotline": (
        "市民来电反映：{body}。诉求：{request}。",
        "市民来电反映{body}，{request_sentence}。",
        "来电人反映：{body}。来电人希望{request}。",
        "{caller}来电称，{body}，要求{request}。",
        "市民{caller}来电反映，{body}。{request_sentence}。",
        "来电反映{body}。市民诉求：{request}。",
        "市民来电：{body}，{request_sentence}。",
        "{caller}来电，{body}。",
        "市民来电反映{estate}{building}附近的问题：{body}。诉求：{request}。",
        "热线转办：{body}，{request_sentence}。",
    ),
    # 网格员上报: what a grid worker saw on patrol
    "grid_worker": (
        "网格员巡查发现：{body}。{action}。",
        "网格员{worker}在{estate}日常巡查时发现{body}，{action}。",
        "巡查发现，{body}，{action}。",
        "{community}网格员上报：{body}，{action}。",
        "日常巡查中发现{body}。",
        "{body}，{action}。",
    ),
    # 随手拍 / app: the citizen's own words
    "app": (
        "{body}。",
        "{body}！",
        "{body}，{emotion}！",
        "{body}，有没有人管管？",
        "随手拍：{body}。",
        "{body}，麻烦处理一下，谢谢。",
        "[求助]{body}。",
        "{body}，请尽快处理！",
        "我要反映一个问题，{body}。",
    ),
    # 物联感知设备: automatic alarms; the body always names the place
    "sensor": (
        "【物联感知告警】{body}。告警时间{clock}。",
        "设备自动上报：{body}。",
        "系统告警：{body}，请及时核查。",
        "{clock}感知设备触发告警：{body}，已推送网格员核查。",
        "【[一级|二级|三级]告警】{body}。",
        "物联感知平台告警：{body}，设备编号{device}。",
        "{body}（设备编号{device}，告警时间{clock}）",
    ),
}
# What a grid worker heard from residents (questions, applications, praise, first-person bodies).
HEARD_FRAMES = (
    "网格员走访中居民反映：{body}。",
    "网格员入户走访时了解到，{body}，{action}。",
    "居民向网格员反映，{body}，{action}。",
    "{community}网格员上报：居民反映{body}，{action}。",
    "走访中居民[反映|提到]{body}。",
)
# Registers whose reports need their own framings (channels not listed use FRAMES).
REGISTER_FRAMES: dict[str, dict[str, tuple[str, ...]]] = {
    "inquiry": {
        "hotline": (
            "市民来电咨询：{body}。诉求：{request}。",
            "来电人咨询{body}，{request_sentence}。",
            "{caller}来电咨询，{body}。",
            "市民来电询问：{body}，{request_sentence}。",
            "市民来电咨询{body}。",
            "热线转办：市民咨询{body}，{request_sentence}。",
        ),
        "grid_worker": (
            "网格员走访中居民询问：{body}。{action}。",
            "居民向网格员咨询，{body}，{action}。",
            "走访中居民询问{body}，{action}。",
            "{community}网格员上报居民咨询：{body}。",
        ),
        "app": (
            "{body}。", "请问{body}。", "{body}，谢谢。", "咨询一下，{body}。", "{body}，麻烦解答一下。",
            "想问一下，{body}。",
        ),
    },
    "service": {
        "grid_worker": HEARD_FRAMES,
        "app": (
            "{body}。", "{body}，麻烦帮忙看一下，谢谢。", "[求助]{body}。", "{body}，请尽快答复。",
            "我要反映一个问题，{body}。", "{body}，{emotion}。",
        ),
    },
    "praise": {
        "hotline": (
            "市民来电表扬：{body}。",
            "{caller}来电，{body}，{request_sentence}。",
            "来电人表示，{body}，{request_sentence}。",
            "市民来电：{body}。诉求：{request}。",
        ),
        "grid_worker": (
            "网格员走访时居民表示，{body}。", "走访中居民[称赞|表扬]：{body}，{action}。",
            "居民向网格员表示，{body}。",
        ),
        "app": ("{body}！", "{body}，点赞！", "{body}，谢谢！", "{body}。", "表扬一下：{body}！"),
    },
    "suggestion": {
        "hotline": (
            "市民来电建议：{body}。",
            "{caller}来电提出建议：{body}，{request_sentence}。",
            "来电人建议{body}，{request_sentence}。",
            "市民来电：{body}。诉求：{request}。",
        ),
        "grid_worker": (
            "网格员走访中收集到居民意见：{body}，{action}。", "居民向网格员提出，{body}。",
            "走访中收集到居民建议：{body}。",
        ),
        "app": (
            "{body}。", "建议：{body}。", "{body}，希望采纳。", "{body}，仅供参考。", "提个建议，{body}。",
        ),
    },
}

WORKERS = tuple(f"{s}{t}" for s in "王李张刘陈杨黄赵吴周" for t in ("某", "某某"))
_DEFAULT_VOICE = VOICES[DEFAULT_REGISTER]
# Style slots templates and framings may use; the engine fills them from the leaf's voice. These default
# values are what the template checks know them by.
STYLE_SLOTS: dict[str, tuple[str, ...]] = {
    "request": _DEFAULT_VOICE.request,
    "request_sentence": _DEFAULT_VOICE.request_sentence,
    "action": _DEFAULT_VOICE.action,
    "emotion": _DEFAULT_VOICE.emotion,
    "worker": WORKERS,
}

PHONE_CONTACTS = (
    "我的电话是{phone}", "联系电话{phone}", "有事可以打{phone}", "来电号码：{phone}",
    "联系人{caller}，电话{phone}",
)
ID_CONTACTS = ("身份证号{idcard}",)
PLATE_CONTACTS = ("车牌号{plate}", "对方车牌{plate}")  # only for leaves about vehicles
PADDING_BY_CHANNEL: dict[str, tuple[str, ...]] = {  # which padding kinds suit whose voice
    "hotline": ("background", "emotion", "repeat", "contact"),  # the framing already states the request
    "app": ("background", "emotion", "repeat", "request", "contact"),
    "grid_worker": ("repeat", "request"),
    "sensor": (),
}
LONG_SHARE: dict[str, float] = {"hotline": 0.08, "app": 0.05}  # long, repetitive reports: 8-14 paddings
PADDING_COUNTS: dict[str, tuple[int, ...]] = {  # drawn uniformly: how many padding sentences a report gets
    "hotline": (0, 0, 1, 1, 2, 2, 3, 4),
    "app": (0, 0, 0, 1, 1, 2, 3),
    "grid_worker": (0, 0, 0, 1),
    "sensor": (0,),
}

CONNECTORS = (
    "。另外，", "；还有，", "。同时反映", "，另外还有个问题，", "。顺便说一下，", "。此外，", "；另，",
)

# How app users start a message (not in front of a framing's own lead-in: 随手拍：, 请问…).
OPENERS = (
    "那个，", "你好，", "您好，", "喂，我想反映个事，", "就是说，", "请问一下，", "哎，", "我跟你们说，",
)

SHORT_PLACES = ("{estate}{building}", "{estate}", "{road}", "{place}", "")  # prefixes of few-word reports

GENERIC_TITLES: dict[str, tuple[str, ...]] = {
    "hotline": ("市民来电反映问题", "市民诉求", "来电反映", "热线工单", "群众来电"),
    "grid_worker": ("网格巡查上报", "巡查发现问题", "网格事件上报", "走访发现"),
    "app": ("随手拍", "问题反映", "居民诉求", "求助", "投诉"),
    "sensor": ("设备告警", "物联感知告警", "自动告警", "智能感知告警", "设备异常"),
}

# Vague reports: used for any leaf with a small probability. They keep keyword rules below 100%.
GENERIC_VAGUE = (
    "{estate}这边有点情况，麻烦派人来看看", "{place}又出问题了，之前反映过还是没解决",
    "我们小区的问题一直没人管", "请社区关注一下{estate}{building}的情况", "{road}那边情况很乱，希望管一管",
    "{estate}的事情什么时候能处理好", "{building}那边有问题，具体的让人来现场看吧",
    "上次说的那个事到现在还没弄好", "这个问题影响很多居民，请重视",
)

# Fallback for leaves without templates: built from the leaf's own names.
FALLBACKS = (
    "{estate}{building}附近存在{l3}问题，{duration}了", "反映{l2}方面的问题：{place}{l3}",
    "{road}一带{l3}情况比较突出", "关于{l3}的问题，{person}说{place}一直这样",
    "{estate}有{l3}的情况，{frequency}发生", "{l3}，地点在{estate}{place}",
    "想反映一下{l3}的事情，{time}就有", "{estate}{l2}的问题，主要是{l3}", "咨询{l3}相关事宜",
)
# Sensor alarms for a leaf without sensor templates (generation only sends sensors to leaves with some).
SENSOR_ENDINGS = ("请及时核查", "请尽快处置")  # pad alarms shorter than the minimum length
SENSOR_FALLBACKS = ("监测到{l3}相关异常", "{l3}监测数据异常，请核查", "感知设备上报疑似{l3}")

FALLBACK_TITLES = ("{l3}", "{l3}问题", "反映{l3}", "{l2}-{l3}", "{l2}问题")

# 同音/形近 typos as citizens type them: (correct, wrong).
TYPOS = (
    ("在", "再"),
    ("再", "在"),
    ("的", "得"),
    ("得", "的"),
    ("地", "的"),
    ("那", "哪"),
    ("哪", "那"),
    ("做", "作"),
    ("已经", "以经"),
    ("反映", "反应"),
    ("安装", "按装"),
    ("及时", "即时"),
    ("一直", "一只"),
    ("希望", "希忘"),
    ("处理", "处里"),
    ("严重", "严众"),
    ("投诉", "投述"),
    ("厉害", "利害"),
    ("账", "帐"),
    ("像", "象"),
    ("部门", "步门"),
    ("现在", "现再"),
    ("已", "以"),
    ("挺", "听"),
)
PUNCTUATION = "，。！？；：、"

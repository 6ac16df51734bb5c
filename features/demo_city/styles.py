"""How reports are written, apart from what they are about: framings per channel, padding sentences,
colloquial fillers, typos, vague reports and the fallback for leaves without templates.

Strings use the same syntax as templates (``{slot}``, ``[a|b]``); framings also get ``{body}`` (the
report's core) and the style slots in ``STYLE_SLOTS``; fallbacks get ``{l1}``, ``{l2}`` and ``{l3}``.
"""

from __future__ import annotations

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
    # 网格员上报: a grid worker's patrol report
    "grid_worker": (
        "网格员巡查发现：{body}。{action}。",
        "网格员{worker}在{estate}日常巡查时发现{body}，{action}。",
        "巡查发现，{body}，{action}。",
        "网格员走访中居民反映：{body}。",
        "{community}网格员上报：{body}，{action}。",
        "日常巡查中发现{body}。",
        "{body}，{action}。",
        "网格员入户走访时了解到，{body}，{action}。",
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
    # 物联感知设备: automatic alarms, with the issue in words (sensor texts still vary)
    "sensor": (
        "【物联感知告警】{estate}{building}设备告警：{body}。",
        "设备自动上报：{body}。告警时间{clock}。",
        "智能感知设备报警，位置{estate}{building}，{body}。",
        "系统告警：{body}，请及时核查。",
        "{clock}传感器触发告警，{estate}{building}附近{body}。",
    ),
}

REQUESTS = (
    "尽快派人处理", "相关部门核实处理", "尽快解决", "有关部门管一管", "尽快到现场查看", "给个说法",
    "依法处理", "协调解决", "加强管理", "彻底整治", "尽快维修", "给予答复", "落实整改", "上门处理",
    "加强巡查",
)
REQUEST_SENTENCES = (
    "希望尽快派人处理", "请相关部门核实处理", "要求尽快解决", "希望有关部门管一管",
    "请尽快安排人员到现场查看", "希望给个说法", "请依法处理", "请协调解决", "希望加强管理", "要求彻底整治",
    "请尽快回复",
)
ACTIONS = (
    "已拍照取证，需相关部门处置", "已现场劝导，效果不明显", "已告知物业，请职能部门跟进",
    "现场已设置警示，需尽快处置", "已上报街道", "已登记，待协调处理", "已联系相关责任人",
    "已劝离，但反复出现", "需职能部门到场处理", "已通知社区，持续跟踪",
)
EMOTIONS = (
    "实在受不了了", "真的很气人", "大家意见很大", "心里很着急", "晚上根本睡不着", "再这样下去要出事的",
    "居民怨气很大", "太不像话了", "很担心安全", "非常影响生活",
    "说实话我们也不想一直打电话，但是实在是没办法了", "再没人管我们只能找媒体了",
    "老人孩子都受影响，全家人都很焦虑",
)
STYLE_SLOTS: dict[str, tuple[str, ...]] = {
    "request": REQUESTS,
    "request_sentence": REQUEST_SENTENCES,
    "action": ACTIONS,
    "emotion": EMOTIONS,
    "worker": tuple(f"{s}{t}" for s in "王李张刘陈杨黄赵吴周" for t in ("某", "某某")),
}

# Optional padding sentences make reports longer and noisier.
BACKGROUNDS = (
    "我在这个小区住了十几年了", "家里有老人和小孩", "我们这栋楼都是老住户", "这个小区是老小区",
    "我是这里的租户", "我每天上下班都经过这里", "附近住的老人比较多", "这里离学校很近", "我家就住在{floor}",
    "我是{estate}的业主", "我们这边是{district}的", "这边晚上人很多",
    "我们这栋楼一共六层，住的基本都是退休老人，平时大家关系都还可以",
    "我家孩子今年要中考，晚上需要安静的环境学习", "我爱人身体不好，刚做完手术在家休养",
    "我们是{duration}前搬过来的，刚来的时候还好，最近越来越严重", "我平时上夜班，白天要在家睡觉",
    "我在{road}开了个小店，每天都在这边",
)
REPEATS = (
    "已经反映过好几次了一直没人处理", "之前打过12345但问题没有解决", "物业说管不了", "找过社区也没有结果",
    "这个问题{duration}了", "上个月投诉过一次", "跟对方沟通过没用", "{agency}来看过一次就没下文了",
    "之前也有人反映过", "不是第一次了", "上个月{date}就打过电话，当时说会处理，结果到现在也没人来",
    "物业一开始说会处理，后来就一直推说不归他们管", "社区的工作人员来看过，说要协调，之后就没有消息了",
    "我们楼里好几户都打过电话，每次都是登记一下就没下文了", "{agency}说要等上面批准，也不知道要等到什么时候",
)
CONTACTS = (
    "我的电话是{phone}", "联系电话{phone}", "有事可以打{phone}", "来电号码：{phone}",
    "联系人{caller}，电话{phone}", "身份证号{idcard}", "车牌号{plate}", "对方车牌{plate}",
)
PADDING_KINDS: dict[str, tuple[str, ...]] = {
    "background": BACKGROUNDS,
    "emotion": EMOTIONS,
    "repeat": REPEATS,
    "request": REQUEST_SENTENCES,
    "contact": CONTACTS,
}
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

OPENERS = (
    "那个，", "你好，", "您好，", "喂，我想反映个事，", "就是说，", "请问一下，", "哎，", "我跟你们说，",
)
CLOSERS = ("啊", "呀", "！！", "，谢谢", "，麻烦了", "！！！", "哈", "，急", "。。。")

GENERIC_TITLES: dict[str, tuple[str, ...]] = {
    "hotline": ("市民来电反映问题", "市民诉求", "来电反映", "热线工单", "群众来电"),
    "grid_worker": ("网格巡查上报", "巡查发现问题", "网格事件上报", "走访发现"),
    "app": ("随手拍", "问题反映", "居民诉求", "求助", "投诉"),
    "sensor": ("设备告警", "物联感知告警", "自动告警"),
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

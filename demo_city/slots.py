"""Slot fillers for report templates: places, times, people, shops, amounts and fake PII.

A template writes ``{name}``; the engine replaces it with ``SLOTS[name](rng, place, when)``. Slots
that name a location use the event's own grid (its community, district and the streets around it), so
a report from 桂花新村社区 talks about 桂花新村. All PII is fake: phone numbers, ID numbers and plates
are random and only look real (so that redaction has something to do).

``SLOT_HELP`` lists every slot with an example; templates/README.md repeats it for template authors.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Place:
    """Where an event happens, as the texts name it."""

    community: str  # 桂花新村社区
    district: str  # 东城区
    roads: tuple[str, str]  # the east-west and the north-south street by the grid


Filler = Callable[[random.Random, Place, datetime], str]

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许韩冯邓曹彭曾田董潘袁蔡蒋余杜叶程魏苏吕丁沈任姚卢傅钟姜崔"
    "谭廖范汪陆金石贾夏邱方侯邹熊孟秦白江薛尹段雷黎史龙陶贺顾毛郝龚邵万钱严武莫孔汤"
)
ADDRESS_TERMS = ("先生", "女士", "阿姨", "大爷", "师傅", "大姐", "老师", "奶奶", "爷爷", "小姐")
PEOPLE = (
    "一位老人", "一名外卖小哥", "楼下住户", "隔壁邻居", "一位租户", "房东", "小区保安", "一个中年男子",
    "几个年轻人", "保洁阿姨", "快递员", "一位孕妇", "几个小孩", "一名环卫工人", "物业工作人员", "一位残疾人",
)
NEIGHBOURS = (
    "楼上住户", "楼下住户", "隔壁邻居", "对门邻居", "楼上邻居", "隔壁租户", "同楼层住户", "楼上那户人家",
    "隔壁那户", "楼下那户",
)
PLACES = (
    "小区门口", "小区东门", "小区西门", "南门口", "菜市场旁边", "公交站附近", "地下车库", "楼道里",
    "单元门口", "绿化带旁边", "小区广场", "幼儿园门口", "沿街商铺前面", "桥洞下面", "垃圾房旁边", "河边步道",
    "停车场", "小区北侧空地", "健身器材旁边", "学校门口", "超市门口", "天桥下面", "十字路口",
    "老年活动中心门口", "篮球场边上", "自行车棚", "消防通道", "楼顶天台", "架空层", "后门小路",
)
TIMES = (
    "每天晚上", "昨天晚上十点多", "凌晨一两点", "今天上午", "最近几天", "这段时间", "每天早上六点多", "周末",
    "中午", "前天下午", "最近一个月", "晚上十一点以后", "天天", "节假日", "今天早上", "昨天下午三点左右",
    "上周五晚上", "这两天", "每天傍晚", "半夜",
)
# Bare spans: templates add 了 or 前 themselves ("都{duration}了", "{duration}前搬来的").
DURATIONS = (
    "三天", "三四天", "一个多星期", "十来天", "半个多月", "二十来天", "一个多月", "快两个月", "两三个月",
    "半年多", "一年多", "好几年",
)
FREQUENCIES = ("经常", "天天", "反复", "多次", "一直", "隔三差五", "总是", "老是", "三天两头")
SHOP_PREFIXES = (
    "老王", "阿强", "好又多", "金牛", "兴旺", "小李", "福满", "川味", "东北", "鑫源", "佳佳", "老街", "新丰",
    "红太阳", "阿明", "胖哥", "小蔡", "大队长", "金满楼", "百味",
)
SHOP_KINDS = (
    "烧烤店", "饭店", "面馆", "便利店", "超市", "水果店", "理发店", "麻辣烫", "五金店", "棋牌室", "洗车店",
    "奶茶店", "小吃店", "快餐店", "足浴店", "健身房", "大排档", "火锅店", "早餐店", "装修材料店",
)
COMPANY_WORDS = (
    "鑫达", "恒通", "宏远", "安居", "华盛", "聚源", "嘉禾", "永泰", "万顺", "润丰", "金诚", "天和", "瑞祥",
    "远洋", "中盛", "佳和",
)
COMPANY_KINDS = (
    "物业管理", "建设工程", "装饰工程", "科技", "贸易", "劳务派遣", "餐饮管理", "房地产开发", "环境服务",
    "家政服务", "教育咨询", "健身管理",
)
VEHICLES = (
    "电动车", "电瓶车", "三轮车", "小轿车", "面包车", "货车", "渣土车", "摩托车", "共享单车", "老年代步车",
)
COUNTS = ("好几个", "两三个", "十几个", "三四辆", "一大堆", "不少", "七八个", "二十多个", "一排")
AGES = ("六十多岁", "七十多岁", "八十多岁", "九十岁", "七十五岁", "八十二岁", "六十八岁")
AGENCIES = ("物业", "居委会", "社区", "城管", "派出所", "街道", "12345", "网格员", "业委会")
ESTATE_SUFFIXES = ("小区", "新村", "苑", "花园")
COMMUNITY_SUFFIXES = ("新村", "花园", "家园", "苑", "里", "坊")
BUILDING_UNITS = ("幢", "栋", "号楼")
PHONE_PREFIXES = (
    "130", "131", "133", "135", "136", "137", "138", "139", "150", "152", "157", "158", "159", "170", "177",
    "180", "181", "186", "187", "188", "189", "198", "199",
)
PLATE_PROVINCES = "浙浙浙浙苏沪皖赣闽"
PLATE_LETTERS = "ABCDEFGHJK"
PLATE_CHARS = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
CN_DIGITS = "零一二三四五六七八九"
DEVICE_KINDS = ("YG", "RQ", "DT", "JG", "SW", "XF", "HJ", "JT")


def estate(place: Place, rng: random.Random) -> str:
    """A residential compound named after the community (桂花新村社区 -> 桂花新村 / 桂花苑 / 桂花小区)."""
    name = place.community.removesuffix("社区")
    stem = next((name.removesuffix(s) for s in COMMUNITY_SUFFIXES if name.endswith(s) and name != s), name)
    if stem != name and rng.random() < 0.5:
        return name
    return stem + rng.choice(ESTATE_SUFFIXES)


def building(rng: random.Random) -> str:
    text = f"{rng.randint(1, 36)}{rng.choice(BUILDING_UNITS)}"
    return text + (f"{rng.randint(1, 4)}单元" if rng.random() < 0.5 else "")


def room(rng: random.Random) -> str:
    return f"{rng.randint(1, 18)}0{rng.randint(1, 4)}室"


def road(place: Place, rng: random.Random, crossing_share: float = 0.12) -> str:
    if rng.random() < crossing_share:
        return f"{place.roads[0]}与{place.roads[1]}交叉口"
    return rng.choice(place.roads)


def device(rng: random.Random) -> str:
    """An IoT device number as alarm platforms print it: YG-330104-0457."""
    return f"{rng.choice(DEVICE_KINDS)}-3301{rng.randint(1, 9):02d}-{rng.randint(1, 9999):04d}"


def person(rng: random.Random) -> str:
    if rng.random() < 0.6:
        return rng.choice(SURNAMES) + rng.choice(ADDRESS_TERMS)
    return rng.choice(PEOPLE)


def caller(rng: random.Random) -> str:
    """How a hotline record names the caller: 王女士, 李先生 ..."""
    return rng.choice(SURNAMES) + rng.choice(("先生", "女士", "先生", "女士", "阿姨", "师傅"))


def shop(rng: random.Random) -> str:
    return rng.choice(SHOP_PREFIXES) + rng.choice(SHOP_KINDS)


def company(rng: random.Random) -> str:
    prefix = "示范市" if rng.random() < 0.3 else ""
    return f"{prefix}{rng.choice(COMPANY_WORDS)}{rng.choice(COMPANY_KINDS)}有限公司"


def amount(rng: random.Random) -> str:
    if rng.random() < 0.35:
        return rng.choice(
            ("两千多块", "三千多", "五六千块钱", "一万多", "两万多块", "八百块", "四万多", "一千五")
        )
    value = rng.choice(
        (
            300,
            500,
            800,
            1200,
            1500,
            2000,
            2600,
            3000,
            3800,
            4500,
            6000,
            8600,
            12000,
            18000,
            26000,
            35000,
            50000,
        )
    )
    return f"{value}元"


def phone(rng: random.Random) -> str:
    digits = rng.choice(PHONE_PREFIXES) + "".join(rng.choice("0123456789") for _ in range(8))
    style = rng.random()
    if style < 0.15:
        return f"{digits[:3]}-{digits[3:7]}-{digits[7:]}"
    if style < 0.25:
        return f"{digits[:3]} {digits[3:7]} {digits[7:]}"
    return digits


def idcard(rng: random.Random) -> str:
    """An 18-character resident ID number with a valid check character (but random, so fake)."""
    birth = datetime(1940, 1, 1) + timedelta(days=rng.randint(0, 65 * 365))
    body = f"3301{rng.randint(1, 9):02d}{birth:%Y%m%d}{rng.randint(0, 999):03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    check = "10X98765432"[sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11]
    return body + check


def plate(rng: random.Random) -> str:
    length = 6 if rng.random() < 0.2 else 5  # new-energy plates have six characters
    tail = "".join(rng.choice(PLATE_CHARS) for _ in range(length))
    dot = "·" if rng.random() < 0.3 else ""
    return f"{rng.choice(PLATE_PROVINCES)}{rng.choice(PLATE_LETTERS)}{dot}{tail}"


def report_date(when: datetime, rng: random.Random) -> str:
    day = when - timedelta(days=rng.choice((0, 0, 1, 1, 2, 3, 5, 7)))
    return f"{day.month}月{day.day}日"


def clock(when: datetime, rng: random.Random) -> str:
    if rng.random() < 0.5:
        return f"{when.hour}:{when.minute:02d}"
    return f"{when.hour}点{when.minute}分" if when.minute else f"{when.hour}点"


SLOTS: dict[str, Filler] = {
    "community": lambda rng, place, when: place.community,
    "district": lambda rng, place, when: place.district,
    "estate": lambda rng, place, when: estate(place, rng),
    "building": lambda rng, place, when: building(rng),
    "room": lambda rng, place, when: room(rng),
    "floor": lambda rng, place, when: f"{rng.randint(2, 18)}{rng.choice(('楼', '层'))}",
    "road": lambda rng, place, when: road(place, rng),
    "place": lambda rng, place, when: rng.choice(PLACES),
    "person": lambda rng, place, when: person(rng),
    "caller": lambda rng, place, when: caller(rng),
    "neighbour": lambda rng, place, when: rng.choice(NEIGHBOURS),
    "time": lambda rng, place, when: rng.choice(TIMES),
    "duration": lambda rng, place, when: rng.choice(DURATIONS),
    "frequency": lambda rng, place, when: rng.choice(FREQUENCIES),
    "date": lambda rng, place, when: report_date(when, rng),
    "clock": lambda rng, place, when: clock(when, rng),
    "shop": lambda rng, place, when: shop(rng),
    "company": lambda rng, place, when: company(rng),
    "amount": lambda rng, place, when: amount(rng),
    "phone": lambda rng, place, when: phone(rng),
    "idcard": lambda rng, place, when: idcard(rng),
    "plate": lambda rng, place, when: plate(rng),
    "vehicle": lambda rng, place, when: rng.choice(VEHICLES),
    "count": lambda rng, place, when: rng.choice(COUNTS),
    "age": lambda rng, place, when: rng.choice(AGES),
    "agency": lambda rng, place, when: rng.choice(AGENCIES),
    "device": lambda rng, place, when: device(rng),
}

SLOT_HELP: dict[str, str] = {
    "community": "the grid's community (社区): 桂花新村社区",
    "district": "the grid's district: 东城区",
    "estate": "a residential compound (小区) of the community: 桂花新村 / 桂花苑",
    "building": "a building, sometimes with a unit: 12幢 / 3栋2单元 / 5号楼",
    "room": "a flat: 502室",
    "floor": "a floor: 6楼 / 11层",
    "road": "a street by the grid, sometimes a crossing (not before 路口): 文晖路 / 文晖路与丰潭街交叉口",
    "place": "a spot: 小区门口 / 地下车库 / 菜市场旁边",
    "person": "someone involved: 王阿姨 / 一位老人 / 小区保安",
    "caller": "how a hotline record names the caller: 李女士",
    "neighbour": "a neighbour: 楼上住户 / 对门邻居",
    "time": "when it happens: 每天晚上 / 凌晨一两点 / 前天下午",
    "duration": "how long it has gone on, without 了: 半个多月 / 一年多 (write 都{duration}了)",
    "frequency": "how often: 经常 / 隔三差五",
    "date": "a date near the report: 3月5日",
    "clock": "the report's time of day: 21:35 / 9点20分",
    "shop": "a shop: 老王烧烤店 / 好又多超市",
    "company": "a company: 鑫达物业管理有限公司",
    "amount": "money: 3000元 / 两万多块",
    "phone": "fake mobile number (PII): 13812345678 / 138-1234-5678",
    "idcard": "fake 18-character ID number (PII)",
    "plate": "fake licence plate (PII): 浙A3K5D2 / 浙B·D12345",
    "vehicle": "a vehicle: 电动车 / 渣土车",
    "count": "a vague number: 好几个 / 三四辆",
    "age": "an age: 七十多岁",
    "agency": "who was already asked: 物业 / 居委会 / 12345",
    "device": "an IoT device number (sensor alarms): YG-330104-0457",
}

ROAD_STEMS = (
    "文晖", "丰潭", "建设", "解放", "人民", "中山", "新华", "学院", "体育场", "凤起", "庆春", "天目山",
    "莫干山", "湖墅", "石桥", "秋涛", "钱江", "滨江", "望江", "清泰", "延安", "平海", "环城", "德胜", "东新",
    "上塘", "古墩", "紫金港", "留下", "转塘", "之江", "江南", "长河", "西兴", "浦沿", "半山", "康桥", "祥符",
    "三墩", "余杭塘",
)
EW_SUFFIXES = ("路", "街", "大道")
NS_SUFFIXES = ("路", "巷", "弄")


def street_names(row: int, col: int) -> tuple[str, str]:
    """The east-west street of a lattice row and the north-south street of a lattice column."""
    stems = ROAD_STEMS
    east_west = stems[(row * 7) % len(stems)] + EW_SUFFIXES[row % len(EW_SUFFIXES)]
    north_south = stems[(col * 11 + 3) % len(stems)] + NS_SUFFIXES[col % len(NS_SUFFIXES)]
    return east_west, north_south

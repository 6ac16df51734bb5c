"""The redaction test corpus: synthetic, fake personal data in the shapes reports carry it.

Every number here is made up (check characters and Luhn digits are computed, or deliberately wrong);
every name is a common surname with an invented given name. ``CORPUS`` lists (kind, text, tokens): after
redaction none of ``tokens`` may appear anywhere the text goes (training set, dashboard tables and API
answers, evidence, logs, audit). ``KEPT`` lists texts that must come out unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass


def resident_id(body17: str) -> str:
    """A resident ID number with its ISO 7064 MOD 11-2 check character."""
    total = sum(int(d) * (2 ** (17 - i) % 11) for i, d in enumerate(body17))
    return body17 + "10X98765432"[total % 11]


def luhn(body: str) -> str:
    """`body` with its Luhn check digit appended."""
    total = 0
    for position, char in enumerate(reversed(body)):
        value = int(char) * (2 if position % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return body + str((10 - total % 10) % 10)


ID_WITH_X = "11010519491231002X"  # GB 11643's worked example
ID_DIGITS = resident_id("33010619900101123")
ID_BAD_CHECK = ID_DIGITS[:17] + ("1" if ID_DIGITS[17] == "0" else "0")
CARD_LUHN_16 = luhn("622202123456789")
CARD_LUHN_19 = luhn("622848001234567890")
CARD_BAD_16 = CARD_LUHN_16[:-1] + str((int(CARD_LUHN_16[-1]) + 1) % 10)
CARD_BAD_18 = "621700123456789013"
CARD_BAD_19 = "6228480012345678901"


@dataclass(frozen=True)
class Case:
    kind: str
    text: str
    tokens: tuple[str, ...]  # must not survive redaction


CORPUS: tuple[Case, ...] = (
    # resident ID numbers, with and without X, valid and failing the checksum (redacted anyway)
    Case("id", f"身份证号{ID_WITH_X}，请核实", (ID_WITH_X,)),
    Case("id", f"身份证号：{ID_WITH_X.lower()}", (ID_WITH_X.lower(),)),
    Case("id", f"证件号码 {ID_DIGITS} 已登记", (ID_DIGITS,)),
    Case("id", f"他的身份证{ID_BAD_CHECK}好像填错了", (ID_BAD_CHECK,)),
    Case("id", "身份证 110105 19491231 002X", ("110105", "19491231", "002X")),
    Case("id", "身份证号：３３０１０６１９９００１０１１２３Ｘ", ("３３０１０６１９９００１０１１２３",)),
    Case("id", "身份证号33010419807078462，说实话", ("33010419807078462",)),  # 17 digits, mistyped
    # mobiles with spaces, dashes, +86; 10-digit mistyped ones after a cue
    Case("mobile", "电话13812345678，请回电", ("13812345678",)),
    Case("mobile", "手机：138 1234 5678", ("138 1234 5678", "1234 5678")),
    Case("mobile", "联系139-1234-5678谢谢", ("139-1234-5678",)),
    Case("mobile", "电话 +86 150 0013 8000。", ("150 0013 8000",)),
    Case("mobile", "(+86)18612345678", ("18612345678",)),
    Case("mobile", "0086-177-1234-5678", ("177-1234-5678",)),
    Case("mobile", "请打１３７００１３８０００找我", ("１３７００１３８０００",)),
    Case("mobile", "13812345678,13912345678", ("13812345678", "13912345678")),
    Case("mobile", "来电号码：1373378561", ("1373378561",)),
    Case("mobile", "我的电话是1520150110，业委会来看", ("1520150110",)),
    Case("mobile", "手机号 181-1512-847", ("181-1512-847",)),
    Case("mobile", "联系电话130 093 1389", ("130 093 1389",)),
    Case("mobile", "有事可以打37 8303 6589。", ("37 8303 6589",)),
    Case("mobile", "找他1747300681就行", ("1747300681",)),  # a mobile with a digit missing
    # landlines
    Case("landline", "物业电话010-12345678", ("12345678",)),
    Case("landline", "打0755 1234 5678找前台", ("1234 5678",)),
    Case("landline", "座机(0571)88886666转123", ("88886666",)),
    Case("landline", "座机(0571)88886666-8021", ("88886666",)),
    Case("landline", "电话：88886666", ("88886666",)),  # no area code: after a cue
    # e-mail
    Case("email", "邮箱zhang.san@163.com谢谢", ("zhang.san@163.com",)),
    Case("email", "发到 Li_Si+gs@Example.com.cn 就行", ("Li_Si+gs@Example.com.cn",)),
    Case("email", "邮箱：wang５＠qq．com", ("wang５",)),
    # bank cards of 16-19 digits, with or without a valid Luhn digit, with spaces or dashes
    Case("card", f"卡号{CARD_LUHN_16}被盗刷", (CARD_LUHN_16,)),
    Case("card", f"银行卡号{CARD_LUHN_19}", (CARD_LUHN_19,)),
    Case("card", f"卡号{CARD_BAD_16}", (CARD_BAD_16,)),
    Case("card", f"工资卡{CARD_BAD_18}一直没到账", (CARD_BAD_18,)),
    Case("card", f"银行卡号{CARD_BAD_19}，谢谢", (CARD_BAD_19,)),
    Case("card", "卡号6222 0212 3456 7890 123", ("6222 0212 3456 7890", "3456 7890 123")),
    Case("card", "卡号6222-0212-3456-7891", ("6222-0212-3456-7891",)),
    Case("card", "银行卡号6", ()),  # the evidence phrase of the issue: kept as is, it is no number
    Case("card", "银行账号：12345678901", ("12345678901",)),
    # licence plates, new-energy plates included
    Case("plate", "车牌京A12345占道", ("A12345",)),
    Case("plate", "粤B·D12345违停", ("D12345",)),
    Case("plate", "沪AD12345和苏E12345F", ("AD12345", "E12345F")),
    Case("plate", "一辆浙a3k5d2的车", ("a3k5d2",)),
    Case("plate", "对方车牌FRZ2TS", ("FRZ2TS",)),
    # names after 姓名/联系人/我叫/本人, before 先生/女士/师傅/阿姨
    Case("name", "姓名：张三丰", ("张三丰",)),
    Case("name", "姓名:欧阳娜娜，电话见上", ("欧阳娜娜",)),
    Case("name", "联系人：王建国 13812345678", ("王建国",)),
    Case("name", "联系人李四海反映楼道堆物", ("李四海",)),
    Case("name", "我叫刘德福，住3栋", ("刘德福",)),
    Case("name", "本人叫陈小红", ("陈小红",)),
    Case("name", "本人姓名周志强", ("周志强",)),
    Case("name", "免贵姓诸葛，住在5栋", ("诸葛",)),
    Case("name", "黄先生来电反映", ("黄先生",)),
    Case("name", "隔壁的王女士说", ("王女士",)),
    Case("name", "欧阳女士家漏水", ("欧阳女士",)),
    Case("name", "张三丰先生反映", ("张三丰",)),
    Case("name", "修车的赵师傅", ("赵师傅",)),
    Case("name", "楼下孙阿姨", ("孙阿姨",)),
    Case("name", "感谢物业师傅徐女士帮忙", ("徐女士",)),
    Case("name", "丰苑白先生反映", ("白先生",)),
    Case("name", "name: Zhang San", ("Zhang San",)),
    # QQ and WeChat ids
    Case("qq", "QQ号：12345678", ("12345678",)),
    Case("qq", "qq 987654321", ("987654321",)),
    Case("wechat", "微信号：zhang_san88", ("zhang_san88",)),
    Case("wechat", "微信：wxid_abc123", ("wxid_abc123",)),
    Case("wechat", "wx:li-si-2024", ("li-si-2024",)),
    Case("wechat", "加我微信13812345678", ("13812345678",)),
    # passports and travel permits
    Case("passport", "护照号E12345678", ("E12345678",)),
    Case("passport", "护照 G12345678 过期", ("G12345678",)),
    Case("passport", "护照号码：EA1234567", ("EA1234567",)),
    Case("passport", "港澳通行证C12345678", ("C12345678",)),
)

KEPT: tuple[str, ...] = (
    "3栋2单元502室，2024年3月5日，10:30，花了3000元",
    "5栋302的住户，晚上21:35还在装修",
    "欠了我们两万多块工钱，一共12000元",
    "之前打过12345但问题没有解决，拨打110也没用，打了3次",
    "设备编号YG-330104-0457，告警时间23:14",
    "女士们、先生们，各位师傅们",
    "谢谢师傅，对方阿姨不讲理，旁边大爷也说",
    "这位女士和那位先生都是业主",
    "当事人申请人民调解",
    "长处方医生说系统不支持",
    "丰苑的物业说",
    "编号20240305001",
)

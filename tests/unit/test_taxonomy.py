"""Taxonomy loader and the bundled taxonomies."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from textwrap import dedent

import pytest

from features.taxonomy import RISK_GROUPS, Leaf, Taxonomy, TaxonomyError, load_taxonomy

TAXONOMY_DIR = Path(__file__).resolve().parents[2] / "features" / "taxonomies"

FLAT7 = ["城乡建设", "劳动和社会保障", "教育文体", "商贸旅游", "环境保护", "卫生计生", "交通运输"]

# Names that must appear somewhere on a path (L1, L2 or L3), by theme.
MUST_HAVE = """
    邻里纠纷 家庭纠纷 物业纠纷 劳资纠纷 拖欠工资 消费纠纷 征收拆迁纠纷 医患纠纷 合同债务纠纷
    消防通道堵塞 燃气泄漏 电动车违规充电 飞线充电 电动车进楼入户 危房 高空抛物 高空坠物
    电梯故障困人 窨井盖缺失破损 用电安全 危险化学品 建筑施工安全 道路积水内涝 树木倒伏
    可疑人员 盗窃 赌博 电信网络诈骗 群租房 流浪乞讨 打架斗殴
    占道经营 施工噪音 社会生活噪音 商业经营噪音 餐饮油烟 私搭乱建 乱张贴小广告 共享单车乱停
    垃圾乱堆乱放 垃圾清运不及时 垃圾分类不规范 路灯损坏 道路破损 污水直排 异味扰民 河道污染
    养老服务 托育服务 助残服务 社会保险 医疗服务 教育服务 就业服务
    违章停车 公交线路 交通信号灯故障 道路拥堵
    无证无照经营 食品安全 价格欺诈 过期变质食品 虚假宣传
    户籍证件 社保政策咨询 住房公积金 惠民政策 供水 供电 供暖 燃气缴费 网络通信
""".split()


def write_yaml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "taxonomy.yaml"
    path.write_text(dedent(text), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def bundled() -> Taxonomy:
    return load_taxonomy()


# ---- the bundled GridSense taxonomy ------------------------------------------------------


def test_bundled_taxonomy_identity_and_size(bundled: Taxonomy) -> None:
    assert bundled.name == "gridsense"
    assert bundled.version == "2026.11"
    assert bundled.depth == 3
    assert len(bundled.level1) >= 12
    assert len(bundled.leaves) >= 80


def test_bundled_leaves_are_complete_and_unique(bundled: Taxonomy) -> None:
    assert all(leaf.department.strip() for leaf in bundled.leaves)
    assert {leaf.risk_group for leaf in bundled.leaves} == set(RISK_GROUPS)
    assert len(set(bundled.leaf_ids)) == len(bundled.leaves)
    assert all(bundled.leaf(leaf.id) == leaf for leaf in bundled.leaves)


def test_bundled_leaf_names_are_unique_across_branches(bundled: Taxonomy) -> None:
    counts = Counter(leaf.l3 for leaf in bundled.leaves)
    assert [name for name, n in counts.items() if n > 1] == []


def test_bundled_taxonomy_names_the_must_have_events(bundled: Taxonomy) -> None:
    on_some_path = {name for leaf in bundled.leaves for name in (leaf.l1, leaf.l2, leaf.l3)}
    assert [name for name in MUST_HAVE if name not in on_some_path] == []


def test_bundled_risk_groups_follow_the_branches(bundled: Taxonomy) -> None:
    assert {leaf.risk_group for leaf in bundled.leaves if leaf.l1 == "矛盾纠纷"} == {"dispute"}
    assert {leaf.risk_group for leaf in bundled.leaves if leaf.l1 == "安全隐患"} == {"hazard"}
    assert bundled.find("社会治安", "治安案件", "打架斗殴").risk_group == "dispute"
    assert bundled.find("城市管理", "市容秩序", "占道经营").risk_group == "none"


def test_bundled_catch_all_category(bundled: Taxonomy) -> None:
    other = bundled.find("其他", "其他", "其他事项")
    assert other is not None
    assert other.id == "其他/其他事项"
    assert bundled.leaf("其他/其他事项") == other


def test_records_have_one_row_per_leaf(bundled: Taxonomy) -> None:
    records = bundled.to_records()
    assert len(records) == len(bundled.leaves)
    assert set(records[0]) == {
        "leaf_id",
        "category_l1",
        "category_l2",
        "category_l3",
        "department",
        "risk_group",
    }
    assert records[0]["leaf_id"] == bundled.leaves[0].id


def test_unknown_leaf_raises_key_error_naming_it(bundled: Taxonomy) -> None:
    with pytest.raises(KeyError, match="不存在的类别"):
        bundled.leaf("不存在的类别")
    assert bundled.find("不存在的类别") is None


# ---- flat taxonomies ---------------------------------------------------------------------


def test_flat_taxonomy_written_in_test_loads(tmp_path: Path) -> None:
    lines = ["name: flat", "categories:"] + [
        f"  - {{name: {c}, department: 部门{i}}}" for i, c in enumerate(FLAT7)
    ]
    taxonomy = load_taxonomy(write_yaml(tmp_path, "\n".join(lines)))
    assert len(taxonomy.leaves) == 7
    assert taxonomy.depth == 1
    assert taxonomy.leaf_ids == FLAT7
    assert taxonomy.level1 == FLAT7
    leaf = taxonomy.find("教育文体")
    assert leaf == Leaf("教育文体", "教育文体", "教育文体", "部门2", "none")
    assert taxonomy.leaf("教育文体") == leaf


def test_bundled_flat7_taxonomy_loads() -> None:
    taxonomy = load_taxonomy(TAXONOMY_DIR / "tipdm_flat7.yaml")
    assert taxonomy.name == "tipdm_flat7"
    assert taxonomy.depth == 1
    assert taxonomy.leaf_ids == FLAT7
    assert {leaf.risk_group for leaf in taxonomy.leaves} == {"none"}
    assert taxonomy.find("环境保护").department == "生态环境局"


def test_shallow_branch_repeats_the_deepest_name(tmp_path: Path) -> None:
    path = write_yaml(
        tmp_path,
        """
        categories:
          - name: 甲
            department: 部门
            children:
              - name: 乙
              - name: 丙
                children: [{name: 丁}]
        """,
    )
    taxonomy = load_taxonomy(path)
    assert taxonomy.leaf_ids == ["甲/乙", "甲/丙/丁"]
    assert taxonomy.find("甲", "乙") == Leaf("甲", "乙", "乙", "部门", "none")
    assert taxonomy.depth == 3


# ---- inheritance ------------------------------------------------------------------------


def test_department_and_risk_group_inherit_and_override(tmp_path: Path) -> None:
    path = write_yaml(
        tmp_path,
        """
        name: t
        version: "1"
        categories:
          - name: 矛盾纠纷
            risk_group: dispute
            department: 综治中心
            children:
              - name: 邻里纠纷
                department: 居委会
                children:
                  - name: 噪音扰邻纠纷
                  - name: 漏水渗水纠纷
                    department: 物业
                  - name: 高空抛物
                    risk_group: hazard
              - name: 合同纠纷
        """,
    )
    taxonomy = load_taxonomy(path)
    by_name = {leaf.l3: leaf for leaf in taxonomy.leaves}
    assert (by_name["噪音扰邻纠纷"].department, by_name["噪音扰邻纠纷"].risk_group) == ("居委会", "dispute")
    assert (by_name["漏水渗水纠纷"].department, by_name["漏水渗水纠纷"].risk_group) == ("物业", "dispute")
    assert (by_name["高空抛物"].department, by_name["高空抛物"].risk_group) == ("居委会", "hazard")
    assert (by_name["合同纠纷"].department, by_name["合同纠纷"].risk_group) == ("综治中心", "dispute")


def test_risk_group_defaults_to_none(tmp_path: Path) -> None:
    path = write_yaml(tmp_path, "categories: [{name: 咨询, department: 热线}]")
    assert load_taxonomy(path).leaves[0].risk_group == "none"


# ---- errors -----------------------------------------------------------------------------

BAD_TAXONOMIES = {
    "missing department": (
        """
        categories:
          - name: 甲
            children: [{name: 乙}]
        """,
        r"甲/乙 has no department",
    ),
    "null department": ("categories: [{name: 甲, department: }]", r"甲 has no department"),
    "bad risk group": (
        "categories: [{name: 甲, department: 部门, risk_group: danger}]",
        r"甲 has risk_group 'danger'",
    ),
    "four levels": (
        """
        categories:
          - name: 一
            department: 部门
            children:
              - name: 二
                children:
                  - name: 三
                    children: [{name: 四}]
        """,
        r"一/二/三 has children, deeper than three levels",
    ),
    "empty children": (
        """
        categories:
          - name: 甲
            department: 部门
            children: []
        """,
        r"甲 must be a non-empty list",
    ),
    "null children": (
        "categories: [{name: 甲, department: 部门, children: }]",
        r"甲 must be a non-empty list",
    ),
    "missing name": (
        """
        categories:
          - name: 甲
            department: 部门
            children: [{department: 部门}]
        """,
        r"under 甲 needs a name",
    ),
    "null name": ("categories: [{name: , department: 部门}]", r"under root needs a name"),
    "duplicate leaves": (
        """
        categories:
          - name: 甲
            department: 部门
            children: [{name: 乙}, {name: 乙}]
        """,
        r"duplicate leaves: \['甲/乙'\]",
    ),
    "separator in a name": ("categories: [{name: 甲/乙, department: 部门}]", r"must not contain '/'"),
    "misspelt key": (
        "categories: [{name: 甲, department: 部门, childern: [{name: 乙}]}]",
        r"甲 has unknown keys \['childern'\]",
    ),
    "no categories": ("name: x", r"expected a mapping with a 'categories' list"),
    "empty categories": ("categories: []", r"categories must be a non-empty list"),
}


@pytest.mark.parametrize("case", sorted(BAD_TAXONOMIES))
def test_malformed_taxonomy_raises_a_useful_error(tmp_path: Path, case: str) -> None:
    text, message = BAD_TAXONOMIES[case]
    path = write_yaml(tmp_path, text)
    with pytest.raises(TaxonomyError, match=message) as error:
        load_taxonomy(path)
    assert str(path) in str(error.value)


def test_from_dict_rejects_a_bad_risk_group(bundled: Taxonomy) -> None:
    data = bundled.to_dict()
    data["leaves"][0] = {**data["leaves"][0], "risk_group": "danger"}
    with pytest.raises(TaxonomyError, match="risk_group"):
        Taxonomy.from_dict(data)


# ---- serialisation and fingerprint ------------------------------------------------------


def test_dict_round_trip_is_equal_with_the_same_fingerprint(bundled: Taxonomy) -> None:
    restored = Taxonomy.from_dict(bundled.to_dict())
    assert restored == bundled
    assert restored.fingerprint == bundled.fingerprint
    assert load_taxonomy().fingerprint == bundled.fingerprint


def test_fingerprint_changes_when_a_department_changes(bundled: Taxonomy) -> None:
    data = bundled.to_dict()
    data["leaves"][0] = {**data["leaves"][0], "department": "另一个部门"}
    changed = Taxonomy.from_dict(data)
    assert changed != bundled
    assert changed.fingerprint != bundled.fingerprint


def test_fingerprint_changes_with_the_version(bundled: Taxonomy) -> None:
    data = {**bundled.to_dict(), "version": "2027.01"}
    assert Taxonomy.from_dict(data).fingerprint != bundled.fingerprint


# ---- risk groups the site declares ------------------------------------------------------------


def test_without_a_risk_groups_block_the_groups_are_dispute_and_hazard(bundled: Taxonomy) -> None:
    assert bundled.risk_groups == ("dispute", "hazard")
    assert bundled.group_labels("zh") == {"dispute": "矛盾纠纷", "hazard": "安全隐患"}
    assert bundled.group_labels("en") == {"dispute": "Disputes", "hazard": "Safety hazards"}
    assert "risk_groups" not in bundled.to_dict()  # the fingerprint of older taxonomies stays the same


def test_a_taxonomy_declares_its_own_groups(tmp_path: Path) -> None:
    path = write_yaml(
        tmp_path,
        """
        name: city
        risk_groups:
          - {id: theft, labels: {zh: 盗窃, en: Theft}}
          - id: violence
            labels: {en: Violence}
          - arson
        categories:
          - {name: THEFT, department: police, risk_group: theft}
          - {name: BATTERY, department: police, risk_group: violence}
          - {name: ARSON, department: fire, risk_group: arson}
          - {name: NOISE, department: city}
        """,
    )
    taxonomy = load_taxonomy(path)
    assert taxonomy.risk_groups == ("theft", "violence", "arson")
    assert taxonomy.group_labels("zh") == {"theft": "盗窃", "violence": "Violence", "arson": "arson"}
    assert [leaf.risk_group for leaf in taxonomy.leaves] == ["theft", "violence", "arson", "none"]
    again = Taxonomy.from_dict(taxonomy.to_dict())
    assert again == taxonomy and again.fingerprint == taxonomy.fingerprint


@pytest.mark.parametrize(
    ("groups", "leaf_group", "fragment"),
    [
        ("[theft]", "dispute", "risk_group 'dispute', not one of ['theft', 'none']"),
        ("[Theft]", "Theft", "must be lower-case"),
        ("[all]", "all", "'all' is reserved"),
        ("[theft, theft]", "theft", "declared twice"),
        ("{theft: x}", "theft", "risk_groups must be a list"),
        ("[{id: theft, labels: {fr: vol}}]", "theft", "labels must map"),
    ],
)
def test_bad_risk_groups_are_one_line_errors(tmp_path: Path, groups: str, leaf_group: str, fragment: str):
    path = write_yaml(
        tmp_path,
        f"""
        risk_groups: {groups}
        categories:
          - {{name: A, department: x, risk_group: {leaf_group}}}
        """,
    )
    with pytest.raises(TaxonomyError) as error:
        load_taxonomy(path)
    assert fragment in error.value.one_line()
    assert str(path) in error.value.one_line()


def test_a_single_group_taxonomy(tmp_path: Path) -> None:
    path = write_yaml(
        tmp_path,
        """
        risk_groups: [{id: theft, labels: {en: Theft}}]
        categories:
          - {name: THEFT, department: police, risk_group: theft}
        """,
    )
    assert load_taxonomy(path).risk_groups == ("theft",)

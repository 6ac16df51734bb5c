"""`gridsense taxonomy import | check`: a CSV tree into taxonomy YAML, a log's category paths against it."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from cli.app import app
from core.errors import DataFileError
from features.taxonomy import load_taxonomy
from features.taxonomy_import import check_log, closest, import_taxonomy, write_taxonomy

SHARED_TREE = (
    Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "tipdm2020c" / "taxonomy_3level.csv"
)
TREE = """一级分类,二级分类,三级分类
城乡建设,安全生产,事故处理
城乡建设,安全生产,安全隐患
城乡建设,安全生产,安全隐患
城乡建设,物业管理,
城乡建设,,
交通运输,出租车,拒载
交通运输,出租车,绕路
治安,,
"""
MAPPING = """name: city
version: 2
default_department: 市民服务中心
departments:
  城乡建设: 住建局
  城乡建设/安全生产: 应急管理局
  交通运输/出租车/拒载: 交通执法支队
risk_groups:
  城乡建设/安全生产: hazard
  治安: dispute
"""
runner = CliRunner()


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def run(*args: object):
    return runner.invoke(app, [str(arg) for arg in args])


def test_a_chinese_three_level_tree_with_a_mapping_becomes_a_valid_taxonomy(tmp_path: Path):
    tree = write(tmp_path / "tree.csv", TREE, "gbk")
    result = import_taxonomy(tree, write(tmp_path / "map.yaml", MAPPING))
    taxonomy = write_taxonomy(result, tmp_path / "out" / "city.yaml")
    assert taxonomy == load_taxonomy(tmp_path / "out" / "city.yaml")
    assert (taxonomy.name, taxonomy.version, taxonomy.depth) == ("city", "2", 3)
    assert taxonomy.level1 == ["城乡建设", "交通运输", "治安"]
    assert taxonomy.leaf_ids == [
        "城乡建设/安全生产/事故处理",
        "城乡建设/安全生产/安全隐患",
        "城乡建设/物业管理",
        "交通运输/出租车/拒载",
        "交通运输/出租车/绕路",
        "治安",
    ]
    assert (result.rows_read, result.leaves, result.duplicate_rows, result.prefix_rows) == (8, 6, 1, 1)
    departments = {leaf.id: leaf.department for leaf in taxonomy.leaves}
    assert departments["城乡建设/安全生产/安全隐患"] == "应急管理局"  # the deepest mapped path wins
    assert departments["城乡建设/物业管理"] == "住建局"
    assert departments["交通运输/出租车/拒载"] == "交通执法支队"
    assert departments["交通运输/出租车/绕路"] == departments["治安"] == "市民服务中心"
    groups = {leaf.id: leaf.risk_group for leaf in taxonomy.leaves}
    assert groups["城乡建设/安全生产/事故处理"] == "hazard" and groups["治安"] == "dispute"
    assert groups["城乡建设/物业管理"] == "none"
    assert result.risk_group_leaves == {"none": 3, "hazard": 2, "dispute": 1}
    assert result.default_department_leaves == 2


def test_english_headers_any_column_order_and_no_mapping(tmp_path: Path):
    tree = write(
        tmp_path / "crimes.csv", "\ufeffnote,Level2,level1\nx,RETAIL,THEFT\ny,OVER 500,THEFT\nz,,ARSON\n"
    )
    taxonomy = write_taxonomy(import_taxonomy(tree), tmp_path / "t.yaml")
    assert taxonomy.name == "crimes"
    assert taxonomy.leaf_ids == ["THEFT/RETAIL", "THEFT/OVER 500", "ARSON"]
    assert {leaf.department for leaf in taxonomy.leaves} == {"unassigned"}
    assert {leaf.risk_group for leaf in taxonomy.leaves} == {"none"}


@pytest.mark.parametrize(
    "header", ["category_l1,category_l2", "Level 1,Level 2", "L1,L2", "一级,二级", "1级类目,2级类目"]
)
def test_level_headers_in_their_usual_spellings(tmp_path: Path, header: str):
    result = import_taxonomy(write(tmp_path / "t.csv", f"{header}\nA,B\nA,C\n"))
    assert result.leaves == 2 and result.document["categories"][0]["name"] == "A"


def test_a_site_chooses_its_own_risk_groups(tmp_path: Path):
    tree = write(tmp_path / "c.csv", "l1,l2\nTHEFT,RETAIL\nBATTERY,SIMPLE\nNARCOTICS,\n")
    mapping = write(tmp_path / "m.yaml", "default_risk_group: crime\nrisk_groups:\n  NARCOTICS: none\n")
    taxonomy = write_taxonomy(import_taxonomy(tree, mapping), tmp_path / "t.yaml")
    assert [leaf.risk_group for leaf in taxonomy.leaves] == ["crime", "crime", "none"]
    assert taxonomy.risk_groups == ("crime",)
    assert taxonomy.group_labels("en") == {"crime": "crime"}


def test_the_imported_taxonomy_declares_the_groups_with_their_labels(tmp_path: Path):
    tree = write(tmp_path / "c.csv", "l1,l2\nTHEFT,RETAIL\nBATTERY,SIMPLE\nARSON,\nNARCOTICS,\n")
    mapping = write(
        tmp_path / "m.yaml",
        "risk_groups:\n  THEFT: theft\n  BATTERY: violence\n  ARSON: hazard\n"
        "group_labels:\n  violence: {zh: 暴力, en: Violence}\n  theft: Theft\n",
    )
    out = tmp_path / "t.yaml"
    taxonomy = write_taxonomy(import_taxonomy(tree, mapping), out)
    assert taxonomy.risk_groups == ("violence", "theft", "hazard")
    assert taxonomy.group_labels("zh") == {"violence": "暴力", "theft": "Theft", "hazard": "安全隐患"}
    assert taxonomy.group_labels("en")["hazard"] == "Safety hazards"
    assert load_taxonomy(out) == taxonomy


def test_a_tree_mapped_to_no_group_declares_none(tmp_path: Path):
    taxonomy = write_taxonomy(import_taxonomy(write(tmp_path / "c.csv", "l1\nA\nB\n")), tmp_path / "t.yaml")
    assert taxonomy.risk_groups == ()
    assert "risk_groups: []" in (tmp_path / "t.yaml").read_text("utf-8")


@pytest.mark.parametrize(
    ("mapping", "fragment"),
    [
        ("default_risk_group: Crime\n", "'Crime' must be lower-case"),
        ("risk_groups:\n  A: all\n", "'all' is reserved"),
        ("group_labels:\n  x: [a]\n", "group_labels of 'x'"),
    ],
)
def test_unusable_group_names_are_one_line_errors(tmp_path: Path, mapping: str, fragment: str):
    tree = write(tmp_path / "c.csv", "l1\nA\n")
    with pytest.raises(DataFileError) as error:
        import_taxonomy(tree, write(tmp_path / "m.yaml", mapping))
    assert fragment in error.value.one_line() and "\n" not in error.value.one_line()


@pytest.mark.parametrize(
    ("tree", "mapping", "fragments"),
    [
        ("name,dept\nA,x\n", None, ["no level columns", "一级分类"]),
        ("level2,level3\nA,B\n", None, ["no level columns"]),
        ("level1,level2,level3\nA,,C\n", None, ["line 2", "empty above a filled one"]),
        ("level1,level2\nA,B/C\n", None, ["line 2", "'B/C'", "replace '/'"]),
        (
            "level1,level2\n安全生产,事故处理\n",
            "departments:\n  安全生产/事故处里: x\n",
            ["安全生产/事故处理"],
        ),
        ("level1\nA\n", "departement: x\n", ["unknown key(s) ['departement']"]),
        ("level1\nA\n", "risk_groups: [A]\n", ["risk_groups must map paths to names"]),
    ],
)
def test_mistakes_in_the_tree_or_the_mapping_are_one_line_errors(
    tmp_path: Path, tree: str, mapping: str | None, fragments: list[str]
):
    args = ["taxonomy", "import", write(tmp_path / "tree.csv", tree), "--out", tmp_path / "t.yaml"]
    if mapping:
        args += ["--mapping", write(tmp_path / "map.yaml", mapping)]
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    for fragment in fragments:
        assert fragment in result.stderr, (fragment, result.stderr)
    assert not (tmp_path / "t.yaml").exists()


def test_import_cli_reports_leaves_and_the_taxonomy_loads(tmp_path: Path):
    out = tmp_path / "city.yaml"
    result = run("taxonomy", "import", write(tmp_path / "tree.csv", TREE), "--out", out)
    assert result.exit_code == 0, result.output
    assert "6 leaves, 3 first-level categories, depth 3, from 8 rows" in result.stdout
    assert "6 leaves have the default department" in result.stdout
    assert len(load_taxonomy(out).leaves) == 6


def taxonomy_file(tmp_path: Path) -> Path:
    out = tmp_path / "t.yaml"
    write_taxonomy(import_taxonomy(write(tmp_path / "tree.csv", TREE)), out)
    return out


def test_check_lists_missing_paths_with_counts_and_the_closest_leaf(tmp_path: Path):
    taxonomy = load_taxonomy(taxonomy_file(tmp_path))
    log = pl.DataFrame(
        {
            "category_l1": ["城乡建设", "城乡建设", "城乡建设", "交通运输", "交通运输", "治安", None],
            "category_l2": ["安全生产", "安全生产", None, "出租车", "出租车", None, None],
            "category_l3": ["安全隐患", "安全隐患", None, "绕路", "拒载服务", "", None],
        }
    )
    log.write_parquet(tmp_path / "log.parquet")
    result = check_log(taxonomy, tmp_path / "log.parquet")
    assert (result.rows, result.rows_with_path, result.known_paths) == (7, 6, 3)
    assert [(item.path, item.count, item.suggestion, item.leaves_below) for item in result.missing] == [
        ("交通运输/出租车/拒载服务", 1, "交通运输/出租车/拒载", 0),
        ("城乡建设", 1, "城乡建设/物业管理", 3),  # the log stops at level 1: not a leaf here
    ]


def test_check_cli_reads_a_labelled_csv_and_exits_1_when_anything_is_missing(tmp_path: Path):
    tax = taxonomy_file(tmp_path)
    good = write(tmp_path / "good.csv", "id,text,label\n1,a,治安\n2,b,城乡建设/物业管理\n")
    result = run("taxonomy", "check", "--taxonomy", tax, good)
    assert result.exit_code == 0, result.output
    assert "knows 2 of their paths, misses 0" in result.stdout
    bad = write(
        tmp_path / "bad.csv", "id,text,label\n1,a,治安\n2,b,城乡建设/物业管\n3,c,城乡建设/物业管\n4,d,税务\n"
    )
    result = run("taxonomy", "check", "--taxonomy", tax, bad)
    assert result.exit_code == 1, result.output
    lines = result.stdout.strip().splitlines()
    assert "misses 2 (3 rows)" in lines[0]
    assert lines[1].split() == [
        "2",
        "城乡建设/物业管",
        "(missing;",
        "closest",
        "known:",
        "城乡建设/物业管理)",
    ]
    assert lines[2].split() == ["1", "税务", "(missing;", "nothing", "close)"]
    no_labels = write(tmp_path / "none.csv", "id,text\n1,a\n")
    result = run("taxonomy", "check", "--taxonomy", tax, no_labels)
    assert result.exit_code == 2 and "neither category_l1 nor label" in result.stderr


def test_closest_matches_by_the_last_name_when_the_upper_levels_differ():
    known = ["城乡建设/安全生产/安全隐患", "交通运输/出租车/拒载"]
    assert closest("城建/安全/安全隐患", known) == "城乡建设/安全生产/安全隐患"
    assert closest("完全无关的东西", known) is None


def test_validate_events_hints_at_taxonomy_when_most_paths_are_unknown(tmp_path: Path):
    header = "event_id,reported_at,grid_id,channel,text,category_l1"
    rows = [f"E{i},2024-03-05 14:20:00,G1,hotline,楼道堆物,THEFT" for i in range(3)]
    log = write(tmp_path / "log.csv", "\n".join([header, *rows]) + "\n")
    result = run("validate-events", log)
    assert result.exit_code == 0, result.output
    assert "unknown category path" in result.stdout
    assert "hint:" in result.stdout and "gridsense taxonomy check" in result.stdout
    known = [f"K{i},2024-03-05 14:20:00,G1,hotline,楼道堆物,矛盾纠纷,邻里纠纷,噪音扰邻纠纷" for i in range(3)]
    header3 = f"{header},category_l2,category_l3"
    mixed = write(tmp_path / "mixed.csv", "\n".join([header3, *[f"{r},," for r in rows[:1]], *known]) + "\n")
    result = run("validate-events", mixed)
    assert "unknown category path" in result.stdout and "hint:" not in result.stdout


@pytest.mark.shared_data
@pytest.mark.skipif(not SHARED_TREE.exists(), reason="../shared/data is absent")
def test_the_tipdm_three_level_tree(tmp_path: Path):
    result = import_taxonomy(SHARED_TREE)
    taxonomy = write_taxonomy(result, tmp_path / "tipdm.yaml")
    assert (result.rows_read, result.leaves, taxonomy.depth) == (517, 517, 3)
    assert len(taxonomy.level1) == 15

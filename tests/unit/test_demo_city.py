"""The synthetic demo city: determinism, contract, rate structure and texts."""

from __future__ import annotations

import hashlib
import re
from datetime import date, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from demo_city import (
    DemoCity,
    generate_demo_city,
    late_template_ids,
    template_coverage,
    template_problems,
    voices,
)
from demo_city.bank import mark_late
from demo_city.grids import GRID_COLUMNS, make_grids
from demo_city.process import simulate_events
from demo_city.rates import CHANNELS
from demo_city.slots import DURATIONS, Place
from demo_city.texts import Template, TemplateBank, TextEngine, load_templates
from features.schema import EVENT_COLUMNS, STATUSES
from features.taxonomy import Taxonomy, load_taxonomy

SMALL_TAXONOMY = """
name: small
version: "1"
categories:
  - name: 矛盾纠纷
    risk_group: dispute
    department: 社区居委会
    children:
      - name: 邻里纠纷
        children:
          - name: 噪音扰邻纠纷
          - name: 完全虚构的纠纷
  - name: 安全隐患
    risk_group: hazard
    department: 消防救援站
    children:
      - name: 消防安全
        children:
          - name: 飞线充电
          - name: 道路积水内涝
  - name: 供暖
    department: 热力公司
    children:
      - name: 暖气不热
  - name: 其他
    department: 12345热线
"""


@pytest.fixture(scope="module")
def small_taxonomy(tmp_path_factory: pytest.TempPathFactory) -> Taxonomy:
    path = tmp_path_factory.mktemp("taxonomy") / "small.yaml"
    path.write_text(SMALL_TAXONOMY, encoding="utf-8")
    return load_taxonomy(path)


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> DemoCity:
    return generate_demo_city(tmp_path_factory.mktemp("city"), seed=3, n_grids=80, weeks=30)


@pytest.fixture(scope="module")
def events(city: DemoCity) -> pl.DataFrame:
    return pl.read_parquet(city.events_path)


@pytest.fixture(scope="module")
def grids(city: DemoCity) -> pl.DataFrame:
    return pl.read_parquet(city.grids_path)


@pytest.fixture(scope="module")
def bank() -> TemplateBank:
    """The bundled templates, parsed once."""
    return load_templates()


@pytest.fixture(scope="module")
def big_run() -> tuple[pl.DataFrame, object]:
    """Events without texts over a full-size city (the process alone is fast)."""
    rng = np.random.Generator(np.random.PCG64(11))
    grids = make_grids(300, rng)
    return grids, simulate_events(load_taxonomy(), grids, date(2024, 1, 1), 7 * 52, rng)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---- determinism -------------------------------------------------------------------------------
def test_same_seed_gives_identical_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    runs = {
        name: generate_demo_city(tmp_path / name, seed=seed, n_grids=30, weeks=6)
        for name, seed in (("a", 5), ("b", 5), ("c", 6))
    }
    for attr in ("grids_path", "events_path"):
        a, b, c = (_digest(getattr(runs[name], attr)) for name in "abc")
        assert a == b
        assert a != c
    assert runs["a"].n_events == pl.read_parquet(runs["a"].events_path).height > 0


# ---- grids -------------------------------------------------------------------------------------
def test_grids_have_every_attribute_and_sensible_correlations(grids: pl.DataFrame) -> None:
    big = make_grids(360, np.random.Generator(np.random.PCG64(1)))
    assert big.height == 360 and grids.height == 80
    assert tuple(grids.columns) == GRID_COLUMNS
    assert grids["grid_id"].n_unique() == grids.height and grids["grid_id"][0] == "G0001"
    assert grids.null_count().sum_horizontal().item() == 0
    assert grids["lat"].is_between(30.0, 30.5).all() and grids["lon"].is_between(119.9, 120.4).all()
    assert (big["households"] < big["population"]).all()
    by_old = (
        big.group_by("old_compound").agg(pl.col("building_age", "elderly_share").mean()).sort("old_compound")
    )
    new, old = by_old.rows(named=True)
    assert old["building_age"] > new["building_age"] + 10
    assert old["elderly_share"] > new["elderly_share"]
    x, y = big["x_m"].to_numpy(), big["y_m"].to_numpy()
    distance = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :]) + np.eye(len(x)) * 1e9
    assert 350 < np.median(distance.min(axis=1)) < 600  # a jittered ~500 m lattice
    assert big["district"].n_unique() >= 4 and big["community"].n_unique() >= 20


# ---- events: the contract ----------------------------------------------------------------------
def test_events_follow_the_event_log_contract(events: pl.DataFrame, grids: pl.DataFrame) -> None:
    for column in EVENT_COLUMNS:
        assert events.schema[column.name] == column.dtype, column.name
    assert "secondary_leaf_id" in events.columns
    assert events["event_id"].n_unique() == events.height
    assert events.select(pl.col("reported_at").is_sorted()).item()
    assert events["event_id"].to_list() == sorted(events["event_id"].to_list())
    assert set(events["channel"].unique()) <= set(CHANNELS)
    assert set(events["status"].unique()) <= set(STATUSES)
    assert set(events["grid_id"].unique()) <= set(grids["grid_id"])
    assert (events["text"].str.strip_chars().str.len_chars() > 0).all()
    assert events.filter(pl.col("closed_at") < pl.col("reported_at")).is_empty()
    closed = events["status"] == "closed"
    assert (closed == events["closed_at"].is_not_null()).all()
    assert closed.mean() > 0.9
    assert events.filter(pl.col("lat").is_null() != pl.col("lon").is_null()).is_empty()
    assert events["lat"].drop_nulls().is_between(30.0, 30.5).all()
    hours = events["reported_at"].dt.hour()
    assert (hours.is_between(8, 21)).mean() > 0.8


def test_every_category_path_and_department_comes_from_the_taxonomy(events: pl.DataFrame) -> None:
    taxonomy = load_taxonomy()
    for l1, l2, l3, department in (
        events.select("category_l1", "category_l2", "category_l3", "department").unique().rows()
    ):
        leaf = taxonomy.find(l1, l2, l3)
        assert leaf is not None, (l1, l2, l3)
        assert leaf.department == department
    secondary = events.filter(pl.col("secondary_leaf_id").is_not_null())
    assert set(secondary["secondary_leaf_id"]) <= set(taxonomy.leaf_ids)
    primary = secondary.select(pl.concat_str("category_l1", "category_l2", "category_l3", separator="/"))
    assert (primary.to_series() != secondary["secondary_leaf_id"]).all()


def test_the_event_loader_accepts_every_row(city: DemoCity) -> None:
    from features.events import load_events

    loaded = load_events(city.events_path, load_taxonomy())
    assert loaded.rejects.height == 0
    assert loaded.events.height == city.n_events


def test_works_with_any_taxonomy(tmp_path: Path, small_taxonomy: Taxonomy) -> None:
    city = generate_demo_city(tmp_path, seed=2, n_grids=20, weeks=8, taxonomy=small_taxonomy)
    events = pl.read_parquet(city.events_path)
    paths = set(events.select("category_l1", "category_l2", "category_l3").unique().rows())
    known = {(leaf.l1, leaf.l2, leaf.l3) for leaf in small_taxonomy.leaves}
    assert paths <= known and len(paths) >= 4


def test_scale_sets_the_volume(tmp_path: Path) -> None:
    small = generate_demo_city(tmp_path / "x1", seed=4, n_grids=30, weeks=8, scale=1.0)
    large = generate_demo_city(tmp_path / "x3", seed=4, n_grids=30, weeks=8, scale=3.0)
    assert 2.3 < large.n_events / small.n_events < 3.8


def test_progress_is_reported(tmp_path: Path) -> None:
    stages: list[str] = []
    generate_demo_city(
        tmp_path, seed=1, n_grids=10, weeks=2, progress=lambda stage, done, total: stages.append(stage)
    )
    assert stages[:2] == ["grids", "events"] and stages[-1] == "texts"


# ---- events: the rate structure ----------------------------------------------------------------
def _frame(grids: pl.DataFrame, simulated, taxonomy: Taxonomy) -> pl.DataFrame:
    groups = np.array([leaf.risk_group for leaf in taxonomy.leaves])
    return pl.DataFrame(
        {
            "grid": simulated.grid,
            "day": simulated.seconds // 86_400,
            "group": groups[simulated.leaf],
            "leaf": np.array(taxonomy.leaf_ids)[simulated.leaf],
            "channel": np.array(CHANNELS)[simulated.channel],
            "hour": (simulated.seconds % 86_400) // 3600,
        }
    )


def test_old_compounds_have_more_hazards_per_capita(big_run) -> None:
    grids, simulated = big_run
    frame = _frame(grids, simulated, load_taxonomy())
    hazards = frame.filter(pl.col("group") == "hazard").group_by("grid").len()
    per_grid = (
        grids.with_row_index("grid")
        .with_columns(pl.col("grid").cast(pl.Int64))
        .join(hazards.with_columns(pl.col("grid").cast(pl.Int64)), on="grid", how="left")
    )
    rate = per_grid.group_by("old_compound").agg(
        pl.col("len").fill_null(0).sum() / pl.col("population").sum()
    )
    old = rate.filter(pl.col("old_compound"))["len"].item()
    new = rate.filter(~pl.col("old_compound"))["len"].item()
    assert old > 1.8 * new


def test_weekly_and_daily_patterns(big_run) -> None:
    grids, simulated = big_run
    frame = _frame(grids, simulated, load_taxonomy()).with_columns(
        ((pl.col("day") % 7) >= 5).alias("weekend")  # 2024-01-01 is a Monday
    )
    share = (
        frame.group_by("weekend").agg((pl.col("channel") == "grid_worker").mean().alias("gw")).sort("weekend")
    )
    assert share["gw"][0] > 1.8 * share["gw"][1]  # grid workers patrol on workdays
    per_day = frame.group_by("weekend").agg(pl.len() / pl.col("day").n_unique()).sort("weekend")["len"]
    assert per_day[0] > 1.05 * per_day[1]
    night = frame["hour"].is_between(1, 5).mean()
    assert night < 0.05


def test_annual_seasonality_follows_the_leaf_names(small_taxonomy: Taxonomy) -> None:
    rng = np.random.Generator(np.random.PCG64(5))
    grids = make_grids(150, rng)
    simulated = simulate_events(small_taxonomy, grids, date(2024, 1, 1), 364, rng, scale=2.0)
    frame = _frame(grids, simulated, small_taxonomy).with_columns(
        (pl.lit(date(2024, 1, 1)) + pl.duration(days=pl.col("day"))).dt.month().alias("month")
    )
    counts = frame.group_by("leaf", "month").len()

    def count(leaf: str, months: list[int]) -> int:
        return counts.filter(pl.col("leaf").str.ends_with(leaf) & pl.col("month").is_in(months))["len"].sum()

    assert count("道路积水内涝", [6, 7]) > 3 * count("道路积水内涝", [11, 12])  # rainy season
    assert count("暖气不热", [12, 1]) > 2 * count("暖气不热", [7, 8])  # heating season


def _dispute_weeks(grids: pl.DataFrame, simulated, taxonomy: Taxonomy) -> np.ndarray:
    """(grid, week) bool: at least one dispute."""
    frame = _frame(grids, simulated, taxonomy).filter(pl.col("group") == "dispute")
    weeks = int(simulated.seconds.max() // (7 * 86_400)) + 1
    hit = np.zeros((grids.height, weeks), dtype=bool)
    hit[frame["grid"].to_numpy(), frame["day"].to_numpy() // 7] = True
    return hit


def _within_grid_excess(hit: np.ndarray) -> float:
    """Mean over grids of P(dispute in w+1 | dispute in w) - P(dispute in w+1 | none in w): grid
    heterogeneity cancels, what is left is dependence in time."""
    before, after = hit[:, :-1], hit[:, 1:]
    usable = before.any(axis=1) & (~before).any(axis=1)
    excess = [after[g][before[g]].mean() - after[g][~before[g]].mean() for g in np.flatnonzero(usable)]
    return float(np.mean(excess))


def test_disputes_excite_more_disputes(big_run) -> None:
    grids, simulated = big_run
    taxonomy = load_taxonomy()
    assert (simulated.generation > 0).mean() > 0.1
    hit = _dispute_weeks(grids, simulated, taxonomy)
    assert hit[:, 1:][hit[:, :-1]].mean() > 1.3 * hit.mean()  # P(dispute next week | dispute) vs base rate

    rng = np.random.Generator(np.random.PCG64(11))
    calm_grids = make_grids(300, rng)
    calm = simulate_events(taxonomy, calm_grids, date(2024, 1, 1), 7 * 52, rng, branching={})
    assert (calm.generation == 0).all()
    excited, unexcited = (
        _within_grid_excess(hit),
        _within_grid_excess(_dispute_weeks(calm_grids, calm, taxonomy)),
    )
    assert excited > 0.04 and abs(unexcited) < 0.02


# ---- texts -------------------------------------------------------------------------------------
def test_texts_vary_in_length_style_and_carry_some_pii(events: pl.DataFrame) -> None:
    events = events.filter(pl.col("invalid_reason").is_null())  # valid reports: invalid ones are tested below
    lengths = events["text"].str.len_chars()
    assert 10 <= lengths.min() <= 15 and lengths.max() <= 300
    assert (lengths >= 200).sum() >= 5 and (lengths < 20).mean() > 0.02
    assert lengths.median() > 25
    assert events["text"].n_unique() > 0.9 * events.height
    texts = events["text"]
    assert texts.str.contains("市民来电|来电人|来电").mean() > 0.15
    assert texts.str.contains("网格员|巡查").mean() > 0.05
    assert texts.str.contains(r"1[3-9]\d{9}|1[3-9]\d-\d{4}-\d{4}").mean() > 0.01
    no_punctuation = ~texts.str.contains("[，。！？]")
    assert 0.02 < no_punctuation.mean() < 0.3
    assert 0.05 < events["title"].is_null().mean() < 0.25


def test_compound_reports_are_a_small_share(events: pl.DataFrame) -> None:
    first_reports = events.filter(pl.col("incident_id").is_not_null()).unique("incident_id", keep="first")
    share = first_reports["secondary_leaf_id"].is_not_null().mean()
    assert 0.05 <= share <= 0.10


def test_leaf_without_templates_gets_a_fallback_text(small_taxonomy: Taxonomy) -> None:
    missing = template_coverage(small_taxonomy)
    fictional = small_taxonomy.find("矛盾纠纷", "邻里纠纷", "完全虚构的纠纷")
    assert fictional is not None and fictional.id in missing
    assert "矛盾纠纷/邻里纠纷/噪音扰邻纠纷" not in missing  # the example templates cover it
    engine = TextEngine(small_taxonomy, seed=1)
    place = Place("桂花新村社区", "东城区", ("文晖路", "丰潭巷"))
    reports = [engine.render(fictional, "hotline", place, datetime(2024, 5, 1, 10)) for _ in range(30)]
    assert all(report.text for report in reports)
    assert engine.fallback_count > 20
    assert len({report.text for report in reports}) == 30
    assert sum("完全虚构的纠纷" in report.text for report in reports) > 10


def test_template_files_parse_with_local_slots_and_alternatives(
    tmp_path: Path, small_taxonomy: Taxonomy
) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(
        """
slots:
  thing: [纸箱]
leaves:
  完全虚构的纠纷:
    titles: ["{thing}问题"]
    templates: ["{estate}[甲|乙]{thing}{gadget}"]
    slots:
      gadget: [小号]
vague:
  dispute: ["说不清楚{nonexistent}"]
""",
        encoding="utf-8",
    )
    bank = load_templates([path])
    fictional = small_taxonomy.find("矛盾纠纷", "邻里纠纷", "完全虚构的纠纷")
    assert fictional.id not in template_coverage(small_taxonomy, bank)
    assert template_problems(small_taxonomy, bank) == [
        "dispute: unknown slot {nonexistent} in '说不清楚{nonexistent}'"
    ]
    engine = TextEngine(small_taxonomy, bank, seed=3)
    body = engine._body(
        fictional, Place("桂花社区", "东城区", ("a路", "b路")), datetime(2024, 1, 1), allow_vague=False
    )
    assert re.fullmatch(r"桂花\S*[甲乙]纸箱小号", body.text)
    assert body.template_id == "t:完全虚构的纠纷:0"


def test_bundled_templates_cover_every_leaf_without_problems(bank: TemplateBank) -> None:
    taxonomy = load_taxonomy()
    assert template_coverage(taxonomy, bank) == []
    assert template_problems(taxonomy, bank) == []


def test_unknown_leaf_keys_are_rejected(tmp_path: Path) -> None:
    from demo_city.bank import TemplateError

    path = tmp_path / "t.yaml"
    path.write_text("leaves:\n  飞线充电:\n    templates: [a]\n    sensors: [b]\n", encoding="utf-8")
    with pytest.raises(TemplateError, match="sensors"):
        load_templates([path])


# ---- language drift: late templates ------------------------------------------------------------
def test_a_quarter_of_each_leafs_templates_is_late_whatever_their_order(bank: TemplateBank) -> None:
    templates = bank.for_taxonomy(load_taxonomy())
    bodies = [entry.templates for entry in templates.values()]
    late_share = sum(t.late for group in bodies for t in group) / sum(len(group) for group in bodies)
    assert 0.2 < late_share < 0.3
    assert all(1 <= sum(t.late for t in group) < len(group) / 2 for group in bodies if len(group) >= 4)
    group = bodies[0]
    reordered = mark_late("x", tuple(reversed(mark_late("x", group))))
    assert {t.text for t in reordered if t.late} == {t.text for t in mark_late("x", group) if t.late}


def test_late_templates_appear_only_from_the_drift_date(
    city: DemoCity, events: pl.DataFrame, bank: TemplateBank
) -> None:
    assert city.late_from == datetime(2024, 6, 7)  # 30 weeks: the last quarter starts on day 158
    assert events["template_id"].null_count() == 0  # every leaf has templates: no fallback
    is_late = pl.col("template_id").is_in(list(late_template_ids(load_taxonomy(), bank)))
    assert (events.filter(is_late)["reported_at"] >= city.late_from).all()
    after = events.filter(pl.col("reported_at") >= city.late_from)
    assert 0.1 < after.select(is_late.mean()).item() < 0.4
    # the latest 15% (a time-based test split) holds phrasings the first 70% never used
    train, test = events.head(int(0.7 * events.height)), events.tail(int(0.15 * events.height))
    unseen = ~test["template_id"].is_in(train["template_id"].unique().to_list())
    assert unseen.mean() > 0.1


def test_an_engine_without_a_drift_date_uses_late_templates_from_the_start(bank: TemplateBank) -> None:
    taxonomy = load_taxonomy()
    leaf = taxonomy.leaf("矛盾纠纷/邻里纠纷/噪音扰邻纠纷")
    late = late_template_ids(taxonomy, bank)
    early_day = datetime(2024, 1, 2, 10)
    held_back = TextEngine(taxonomy, bank, seed=1, late_from=datetime(2024, 6, 1))
    free = TextEngine(taxonomy, bank, seed=1)
    ids_held = {held_back.render(leaf, "hotline", PLACE, early_day).template_id for _ in range(150)}
    ids_free = {free.render(leaf, "hotline", PLACE, early_day).template_id for _ in range(150)}
    assert not ids_held & late and ids_free & late


# ---- rendering: registers, padding, places, sensors --------------------------------------------
PLACE = Place("桂花新村社区", "东城区", ("文晖路", "丰潭巷"))
HUMAN_CHANNELS = ("hotline", "app", "grid_worker")


@pytest.fixture(scope="module")
def rendered(bank: TemplateBank) -> pl.DataFrame:
    """Every bundled leaf rendered 12 times per human channel, and by sensors when it has alarms."""
    taxonomy = load_taxonomy()
    engine = TextEngine(taxonomy, bank, seed=5)
    rows = []
    for i, leaf in enumerate(taxonomy.leaves):
        channels = HUMAN_CHANNELS + (("sensor",) if leaf.id in engine.sensed_leaves else ())
        for channel in channels:
            for k in range(12):
                report = engine.render(leaf, channel, PLACE, datetime(2024, 3, 1 + k, 8 + i % 12))
                rows.append((leaf.id, voices.register(leaf), channel, report.text, report.template_id))
    return pl.DataFrame(rows, schema=["leaf_id", "register", "channel", "text", "template_id"], orient="row")


def test_registers_follow_the_leaf_names() -> None:
    taxonomy = load_taxonomy()
    expected = {
        "其他/表扬建议/表扬感谢": "praise",
        "其他/表扬建议/意见建议": "suggestion",
        "政策咨询/社保医保政策/社保政策咨询": "inquiry",
        "政策咨询/住房政策/住房公积金": "inquiry",
        "社会保障/社会救助/低保申请": "service",
        "养老托育/养老服务/养老机构服务投诉": "complaint",
        "矛盾纠纷/家庭纠纷/婚姻纠纷": "dispute",
        "安全隐患/市政设施隐患/窨井盖缺失破损": "hazard",
        "基础设施与公用事业/供水/停水": "repair",
        "城市管理/市容秩序/占道经营": "complaint",
    }
    assert {leaf_id: voices.register(taxonomy.leaf(leaf_id)) for leaf_id in expected} == expected
    assert "尽快维修" in voices.voice(taxonomy.leaf("安全隐患/市政设施隐患/窨井盖缺失破损")).request


def test_durations_read_right(bank: TemplateBank) -> None:
    assert not [d for d in DURATIONS if d.endswith("了")]
    engine = TextEngine(load_taxonomy(), bank, seed=2)
    for text in ("都{duration}了", "我们是{duration}前搬过来的"):
        filled = {engine.fill(Template(text), None, PLACE, datetime(2024, 1, 1)) for _ in range(60)}
        assert not [f for f in filled if "了了" in f or "了前" in f]


def test_no_duration_is_followed_by_a_second_le(rendered: pl.DataFrame) -> None:
    pattern = f"({'|'.join(DURATIONS)})了[了前]"
    assert rendered.filter(pl.col("text").str.contains(pattern)).is_empty()


def test_padding_and_framing_suit_the_register(rendered: pl.DataFrame) -> None:
    complaints = "再这样下去要出事的|有没有人管管|很担心安全|尽快维修|巡查.{0,3}发现|车牌"
    calm = rendered.filter(pl.col("register").is_in(["praise", "suggestion", "inquiry"]))
    assert calm.height > 250
    assert calm.filter(pl.col("text").str.contains(complaints)).is_empty()
    asked = calm.filter((pl.col("register") == "inquiry") & (pl.col("channel") == "grid_worker"))
    assert asked["text"].str.contains("询问|咨询").mean() > 0.5
    family = rendered.filter(pl.col("leaf_id").str.starts_with("矛盾纠纷/家庭纠纷"))
    assert family.filter(pl.col("text").str.contains("尽快维修|维修")).is_empty()
    assert family["text"].str.contains("调解|协调|说法|公道").mean() > 0.1


def test_plates_only_in_reports_about_vehicles(rendered: pl.DataFrame, bank: TemplateBank) -> None:
    taxonomy = load_taxonomy()
    vehicles = {leaf.id for leaf in taxonomy.leaves if voices.mentions_vehicles(leaf)}
    named_in_templates = {
        leaf_id
        for leaf_id, entry in bank.for_taxonomy(taxonomy).items()
        if any("车牌" in t.text for t in entry.templates)
    }
    with_plate = rendered.filter(pl.col("text").str.contains("车牌"))["leaf_id"].unique().to_list()
    assert with_plate and set(with_plate) <= vehicles | named_in_templates
    policy = rendered.filter(pl.col("leaf_id").str.starts_with("政策咨询"))
    assert policy.height > 200 and not policy["text"].str.contains("车牌").any()


def test_sensor_reports_use_alarm_templates_only(
    rendered: pl.DataFrame, events: pl.DataFrame, bank: TemplateBank
) -> None:
    sensor = rendered.filter(pl.col("channel") == "sensor")
    assert sensor.height > 50
    assert sensor["template_id"].str.contains(r":sensor\d+$").all()
    people = rendered.filter(pl.col("channel") != "sensor")
    assert not people["template_id"].str.contains(":sensor").any()
    sensed = TextEngine(load_taxonomy(), bank).sensed_leaves
    from_sensors = events.filter(pl.col("channel") == "sensor")
    assert from_sensors.height > 0
    leaf_ids = from_sensors.select(pl.concat_str("category_l1", "category_l2", "category_l3", separator="/"))
    assert set(leaf_ids.to_series()) <= sensed
    assert from_sensors["template_id"].str.contains(":sensor").all()


def test_a_place_is_named_once(rendered: pl.DataFrame) -> None:
    texts = rendered.filter(pl.col("channel") != "sensor")["text"]
    estate_twice = r"^\S{0,12}?桂花(新村|小区|苑|花园)(\d+(幢|栋|号楼))?(\d单元)?桂花"
    assert texts.str.contains(estate_twice).sum() == 0
    assert texts.str.contains("文晖路文晖路|丰潭巷丰潭巷|附近的问题：桂花").sum() == 0
    assert texts.str.contains("交叉口(这个|那个)?路口").sum() == 0
    assert texts.str.contains("^桂花").mean() > 0.02  # places are still named


# ---- repeats and invalid reports (ground truth) ---------------------------------------------------
def test_repeats_and_invalid_reports_come_at_the_plans_rates(events: pl.DataFrame, city: DemoCity) -> None:
    valid = events.filter(pl.col("incident_id").is_not_null())
    invalid = events.filter(pl.col("invalid_reason").is_not_null())
    assert valid.height + invalid.height == events.height
    repeats = valid.height - valid["incident_id"].n_unique()
    assert abs(repeats / events.height - 0.45) < 0.04
    assert abs(invalid.height / events.height - 0.23) < 0.02
    assert (city.n_incidents, city.n_repeats, city.n_invalid) == (
        valid["incident_id"].n_unique(),
        repeats,
        invalid.height,
    )
    sizes = valid.group_by("incident_id").len()["len"]
    assert (sizes == 1).mean() > 0.3 and sizes.max() >= 8  # most once, some in bursts
    assert events["reporter_id"].null_count() == 0


def test_repeat_reports_share_the_grid_and_leaf_and_come_later_from_others(events: pl.DataFrame) -> None:
    valid = events.filter(pl.col("incident_id").is_not_null())
    per_incident = valid.group_by("incident_id").agg(
        pl.col("grid_id").n_unique().alias("grids"),
        pl.col("category_l3").n_unique().alias("leaves"),
        pl.col("reporter_id").n_unique().alias("reporters"),
        pl.col("channel").n_unique().alias("channels"),
        pl.col("text").n_unique().alias("texts"),
        pl.len().alias("reports"),
    )
    assert (per_incident["grids"] == 1).all() and (per_incident["leaves"] == 1).all()
    many = per_incident.filter(pl.col("reports") > 1)
    assert (many["reporters"] > 1).mean() > 0.6
    assert (many["channels"] > 1).mean() > 0.4
    assert (many["texts"] == many["reports"]).mean() > 0.95  # other wording
    assert valid["secondary_leaf_id"].is_not_null().any()
    told = valid.filter(~pl.col("template_id").str.contains(":(vague|title|sensor)"))
    stories = told.group_by("incident_id").agg(pl.col("template_id").n_unique().alias("stories"))
    assert (stories["stories"] == 1).all(), "every report of one incident tells its story"


def test_invalid_reports_have_every_reason_the_catch_all_leaf_and_late_templates(
    events: pl.DataFrame, city: DemoCity
) -> None:
    from demo_city.invalid import is_late_template
    from features.schema import INVALID_REASONS

    invalid = events.filter(pl.col("invalid_reason").is_not_null())
    assert set(invalid["invalid_reason"]) == set(INVALID_REASONS)
    assert set(invalid["category_l1"]) == {"其他"}
    assert invalid["lat"].null_count() == invalid.height
    late = invalid.with_columns(
        pl.col("template_id").map_elements(is_late_template, return_dtype=pl.Boolean).alias("late")
    )
    assert late.filter(pl.col("late"))["reported_at"].min() >= city.late_from
    assert late["late"].any()


def test_shares_are_options(tmp_path: Path) -> None:
    clean = generate_demo_city(tmp_path, seed=2, n_grids=30, weeks=6, duplicate_share=0.0, invalid_share=0.0)
    events = pl.read_parquet(clean.events_path)
    assert events["invalid_reason"].null_count() == events.height
    assert events["incident_id"].n_unique() == events.height == clean.n_incidents
    with pytest.raises(ValueError, match="below 0.95"):
        generate_demo_city(tmp_path, n_grids=30, weeks=6, duplicate_share=0.6, invalid_share=0.4)


def test_invalid_reports_and_repeats_never_become_text_training_rows(events: pl.DataFrame) -> None:
    from features.events import load_events
    from features.text_dataset import build_text_dataset

    loaded = load_events(events, load_taxonomy())
    text = build_text_dataset(loaded.events)
    valid = events.filter(pl.col("invalid_reason").is_null())
    assert text.height == valid["incident_id"].n_unique() < valid.height, "one row per incident"
    first = valid.sort("reported_at", "event_id").unique("incident_id", keep="first")
    assert set(text["event_id"]) == set(first["event_id"]), "the incident's first report is kept"
    assert not set(text["event_id"]) & set(events.filter(pl.col("invalid_reason").is_not_null())["event_id"])


def test_an_anchored_engine_names_the_same_spot_for_one_incident() -> None:
    engine = TextEngine(load_taxonomy(), seed=1)
    place = Place(community="桂花新村社区", district="东城区", roads=("文晖路", "丰潭街"))
    when = datetime(2024, 3, 1, 9)
    spot = Template("{estate}{building}{road}")
    engine.anchor = "incident-1"
    first = {engine.fill(spot, None, place, when) for _ in range(5)}
    engine.anchor = "incident-2"
    other = {engine.fill(spot, None, place, when) for _ in range(5)}
    engine.anchor = None
    free = {engine.fill(spot, None, place, when) for _ in range(20)}
    assert len(first) == 1 and len(other) == 1 and first != other
    assert len(free) > 1

"""Sites (core/sites.py, `gridsense site`): one name selects a city's paths, taxonomy, calendar, language,
time zone and registered model names; the demo needs no file; mistakes are one line (issue 12)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.registry import RISK_MODEL_NAME, TEXT_MODEL_NAME, base_model_name, site_model_name
from core.settings import Settings
from core.sites import SiteError, SiteFile, list_sites, load_site, write_site_file


def invoke(home: Path, *args: object, env: dict[str, str] | None = None):
    from cli.app import app

    variables = {"GRIDSENSE_HOME": str(home), **(env or {})}
    return CliRunner().invoke(app, [str(arg) for arg in args], env=variables)


def one_line_error(result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def test_the_registry_rule_keeps_the_demo_names_and_gives_a_site_its_own():
    assert site_model_name(RISK_MODEL_NAME, "demo") == "gridsense-risk"
    assert site_model_name(RISK_MODEL_NAME, "chicago") == "gridsense-risk-chicago"
    assert site_model_name(TEXT_MODEL_NAME, "new-york") == "gridsense-text-new-york"
    assert base_model_name("gridsense-risk-new-york") == RISK_MODEL_NAME
    assert base_model_name("gridsense-text") == TEXT_MODEL_NAME


def test_the_demo_site_needs_no_file_and_keeps_todays_paths(tmp_path):
    site = load_site(settings=Settings(home=tmp_path))
    assert site.name == "demo" and site.file is None and site.taxonomy is None
    assert site.events == tmp_path / "datasets" / "demo" / "events.parquet"
    assert site.paths.panel == tmp_path / "datasets" / "demo" / "features" / "panel.parquet"
    assert site.forecasts == tmp_path / "datasets" / "demo" / "forecasts" / "latest.parquet"
    assert site.dashboard_tables == tmp_path / "datasets" / "demo" / "serving"
    assert Settings(home=tmp_path).text_model_uri == "models:/gridsense-text@champion"
    assert list_sites(tmp_path) == ["demo"]


def test_a_site_file_round_trip(tmp_path):
    spec = SiteFile(
        events=Path("datasets/chicago/events.parquet"),
        grids=Path("datasets/chicago/grids.parquet"),
        taxonomy=Path("datasets/chicago/taxonomy.yaml"),
        calendar="US",
        language="en",
        timezone="America/Chicago",
        map_metric="relative",
    )
    path = write_site_file(tmp_path, "chicago", spec)
    assert path == tmp_path / "sites" / "chicago.yaml"
    settings = Settings(home=tmp_path, site="chicago")
    site = load_site(settings=settings)
    assert site.events == tmp_path / "datasets/chicago/events.parquet"
    assert site.taxonomy == tmp_path / "datasets/chicago/taxonomy.yaml"
    assert site.paths.text_dataset == tmp_path / "datasets/chicago/features/text.parquet"
    assert (site.calendar, site.language, site.timezone) == ("US", "en", "America/Chicago")
    assert site.map_metric == "relative"
    assert settings.forecasts_path == tmp_path / "datasets/chicago/forecasts/latest.parquet"
    assert settings.dashboard_tables_dir == tmp_path / "datasets/chicago/serving"
    assert settings.text_model_uri == "models:/gridsense-text-chicago@champion"
    assert settings.risk_model_name == "gridsense-risk-chicago"
    assert list_sites(tmp_path) == ["demo", "chicago"]
    with pytest.raises(SiteError, match="already exists"):
        write_site_file(tmp_path, "chicago", spec)


def test_a_variable_set_explicitly_overrides_the_site_file(tmp_path, monkeypatch):
    write_site_file(tmp_path, "sthlm", SiteFile(events=Path("e.parquet"), language="en", calendar="SE"))
    monkeypatch.setenv("GRIDSENSE_LANGUAGE", "zh")
    settings = Settings(home=tmp_path, site="sthlm", forecasts_path=Path("elsewhere.parquet"))
    assert settings.language == "zh" and settings.calendar_country == "SE"
    assert settings.forecasts_path == tmp_path / "elsewhere.parquet"


def test_site_init_then_show_through_the_cli(tmp_path):
    (tmp_path / "in").mkdir()
    events = tmp_path / "in" / "events.parquet"
    events.write_bytes(b"")
    result = invoke(
        tmp_path, "site", "init", "chicago", "--events", events, "--calendar", "US", "--language", "en",
        "--timezone", "America/Chicago",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "events: in/events.parquet" in (tmp_path / "sites" / "chicago.yaml").read_text()  # home-relative
    shown = json.loads(invoke(tmp_path, "site", "show", "chicago", "--json").stdout)
    assert shown["events"] == str(events) and shown["risk_model"] == "gridsense-risk-chicago"
    assert shown["timezone"] == "America/Chicago" and shown["grids"] == ""
    assert invoke(tmp_path, "site", "list").stdout.split() == ["demo", "chicago"]


def test_an_unknown_site_is_one_line_saying_what_to_do(tmp_path):
    line = one_line_error(invoke(tmp_path, "build-features", "--site", "nowhere"))
    assert "unknown site 'nowhere'" in line and "gridsense site init nowhere" in line
    line = one_line_error(invoke(tmp_path, "models", env={"GRIDSENSE_SITE": "nowhere"}))
    assert "unknown site 'nowhere'" in line


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("events: e.parquet\ncalender: US\n", "calender: unknown key"),
        ("events: e.parquet\nmap_metric: heat\n", "map_metric:"),
        ("events: e.parquet\ntimezone: Mars/Olympus\n", "unknown time zone 'Mars/Olympus'"),
        ("events: e.parquet\nlanguage: fr\n", "language:"),
        ("events: [e.parquet\n", "is unreadable"),
        ("- e.parquet\n", "not a mapping"),
    ],
)
def test_a_site_file_with_a_mistake_is_one_line(tmp_path, content, expected):
    (tmp_path / "sites").mkdir()
    (tmp_path / "sites" / "broken.yaml").write_text(content)
    line = one_line_error(invoke(tmp_path, "train", "risk", "--site", "broken"))
    assert expected in line and "broken.yaml" in line and "--overwrite" in line


@pytest.mark.parametrize("name", ["Chicago", "benchmark", "../etc", ""])
def test_a_bad_site_name_is_refused(tmp_path, name):
    line = one_line_error(invoke(tmp_path, "site", "init", name, "--events", "e.parquet"))
    assert "is not a usable site name" in line


def test_site_init_refuses_the_demo_and_a_bad_option(tmp_path):
    assert "needs no site file" in one_line_error(invoke(tmp_path, "site", "init", "demo", "--events", "e"))
    line = one_line_error(invoke(tmp_path, "site", "init", "x", "--events", "e", "--calendar", "Atlantis"))
    assert "calendar 'Atlantis' is not a country code" in line


def test_a_text_only_site_builds_its_text_set_under_its_own_folder(tmp_path):
    """A site with a taxonomy and no event log: build-text --site writes where train text --site reads;
    build-features, which needs a log, says so in one line."""
    labels = {"供水": "停水", "噪音": "工地夜间施工", "停车": "乱停车"}
    taxonomy = tmp_path / "flat3.yaml"
    categories = "".join(
        f"  - name: {label}\n    department: {label}办\n    risk_group: none\n" for label in labels
    )
    taxonomy.write_text(f"name: flat3\nversion: '1'\ncategories:\n{categories}", encoding="utf-8")
    rows = [
        f"{label}{i},,小区{word}，第{i}次反映,{label}" for label, word in labels.items() for i in range(20)
    ]
    data = tmp_path / "labelled.csv"
    data.write_text("id,title,text,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    assert invoke(tmp_path, "site", "init", "hotline", "--taxonomy", taxonomy).exit_code == 0

    result = invoke(tmp_path, "build-text", "--site", "hotline", "--data", data)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "datasets" / "hotline" / "features" / "text.parquet").is_file()
    assert "next: gridsense train text --site hotline" in result.output
    line = one_line_error(invoke(tmp_path, "build-features", "--site", "hotline"))
    assert "site 'hotline' has no event log" in line and "--events" in line


def test_validate_events_reads_the_sites_log_by_default(tmp_path):
    assert invoke(tmp_path, "site", "init", "town", "--events", tmp_path / "missing.parquet").exit_code == 0
    line = one_line_error(invoke(tmp_path, "validate-events", "--site", "town"))
    assert "missing.parquet" in line


def test_site_init_works_while_gridsense_site_already_names_the_new_site(tmp_path):
    result = invoke(
        tmp_path, "site", "init", "chicago", "--language", "en", env={"GRIDSENSE_SITE": "chicago"}
    )
    assert result.exit_code == 0, result.output
    assert (
        json.loads(invoke(tmp_path, "site", "show", "--json", env={"GRIDSENSE_SITE": "chicago"}).stdout)[
            "language"
        ]
        == "en"
    )

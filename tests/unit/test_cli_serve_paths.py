"""`gridsense serve --forecasts/--dashboard-tables`: a city's tables are served without knowing the
environment variables (issue 12)."""

from __future__ import annotations

from typer.testing import CliRunner

from cli.app import app
from core.settings import Settings


def test_serve_points_the_api_at_the_given_tables(tmp_path, monkeypatch):
    seen = {}

    def fake_run(*args):
        seen["settings"] = Settings()  # what the workers will read

    monkeypatch.setattr("serving.server.run", fake_run)
    for variable in (
        "GRIDSENSE_FORECASTS_PATH",
        "GRIDSENSE_DASHBOARD_TABLES_DIR",
        "GRIDSENSE_MLFLOW_TRACKING_URI",
        "GRIDSENSE_SERVE_TEXT",
        "GRIDSENSE_SERVE_RISK",
    ):
        # serve sets them for its workers: recorded here (set, then deleted) so teardown removes them again
        monkeypatch.setenv(variable, "unset")
        monkeypatch.delenv(variable)
    forecasts, tables = tmp_path / "chicago" / "latest.parquet", tmp_path / "chicago" / "serving"
    arguments = ["serve", "--forecasts", str(forecasts), "--dashboard-tables", str(tables)]
    result = CliRunner().invoke(app, arguments, env={"GRIDSENSE_HOME": str(tmp_path)})
    assert result.exit_code == 0, result.output
    assert seen["settings"].forecasts_path == forecasts
    assert seen["settings"].dashboard_tables_dir == tables


def test_serve_site_points_the_workers_at_the_sites_tables_names_and_language(tmp_path, monkeypatch):
    from core.sites import SiteFile, write_site_file

    seen = {}
    monkeypatch.setattr("serving.server.run", lambda *args: seen.setdefault("settings", Settings()))
    for variable in (
        "GRIDSENSE_SITE",
        "GRIDSENSE_FORECASTS_PATH",
        "GRIDSENSE_DASHBOARD_TABLES_DIR",
        "GRIDSENSE_LANGUAGE",
        "GRIDSENSE_SITE_TIMEZONE",
        "GRIDSENSE_MLFLOW_TRACKING_URI",
        "GRIDSENSE_SERVE_TEXT",
        "GRIDSENSE_SERVE_RISK",
    ):  # set by serve for its workers: recorded so that teardown removes them
        monkeypatch.setenv(variable, "unset")
        monkeypatch.delenv(variable)
    monkeypatch.setenv("GRIDSENSE_HOME", str(tmp_path))
    spec = SiteFile(events=tmp_path / "e.parquet", language="en", timezone="America/Chicago")
    write_site_file(tmp_path, "chicago", spec)
    result = CliRunner().invoke(app, ["serve", "--site", "chicago"])
    assert result.exit_code == 0, result.output
    settings = seen["settings"]
    assert settings.site == "chicago" and settings.language == "en"
    assert settings.site_timezone == "America/Chicago"
    assert settings.forecasts_path == tmp_path / "datasets" / "chicago" / "forecasts" / "latest.parquet"
    assert settings.dashboard_tables_dir == tmp_path / "datasets" / "chicago" / "serving"
    assert settings.risk_model_name == "gridsense-risk-chicago"
    assert settings.text_model_uri == "models:/gridsense-text-chicago@champion"
    assert (settings.serve_text, settings.serve_risk) == (False, False), "the site has no model yet"
    assert "gridsense-text-chicago is not registered: serving risk only" in result.output

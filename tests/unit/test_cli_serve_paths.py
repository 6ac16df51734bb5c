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

"""`gridsense serve | ui`: the API and the MLflow UI, on loopback by default."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.options import SiteOption
from core.home import project_root


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    demo_keys: Annotated[
        bool,
        typer.Option(
            "--demo-keys", help="Issue and print fresh demo keys for the three roles (local demo only)."
        ),
    ] = False,
    header_timeout: Annotated[
        float | None,
        typer.Option(
            help="Seconds for a request's line and headers (default GRIDSENSE_HEADER_TIMEOUT_SECONDS)."
        ),
    ] = None,
    body_timeout: Annotated[
        float | None,
        typer.Option(help="Seconds for a request's body (default GRIDSENSE_BODY_TIMEOUT_SECONDS)."),
    ] = None,
    forecasts: Annotated[
        Path | None,
        typer.Option(
            help="Forecast table to serve (default: the site's, GRIDSENSE_FORECASTS_PATH; "
            "`gridsense forecast --out`)."
        ),
    ] = None,
    dashboard_tables: Annotated[
        Path | None,
        typer.Option(help="Dashboard tables folder (default: the site's, GRIDSENSE_DASHBOARD_TABLES_DIR)."),
    ] = None,
    site: SiteOption = None,
) -> None:
    """Start the API for a site (models load from the MLflow registry by alias; every route but /healthz
    needs a key)."""
    import os
    import tempfile

    from serving.server import run

    os.environ.setdefault("GRIDSENSE_MLFLOW_TRACKING_URI", _local_uri())
    os.environ.update(site_environment(site, forecasts, dashboard_tables))  # the workers read their settings
    _serve_only_what_is_registered()
    if workers > 1:  # /metrics aggregates the workers through a shared directory
        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="gridsense-metrics-"))
    if demo_keys:
        from cli.ops import print_demo_keys

        print_demo_keys(port)
    run(host, port, workers, header_timeout, body_timeout)


def site_environment(
    site: str | None, forecasts: Path | None, dashboard_tables: Path | None
) -> dict[str, str]:
    """The GRIDSENSE_* variables that point the API's workers at a site: its name (which gives them its
    model names), tables, language and time zone; --forecasts / --dashboard-tables override its tables."""
    from core.sites import load_site

    current = load_site(site)
    return {
        "GRIDSENSE_SITE": current.name,
        "GRIDSENSE_FORECASTS_PATH": str((forecasts or current.forecasts).resolve()),
        "GRIDSENSE_DASHBOARD_TABLES_DIR": str((dashboard_tables or current.dashboard_tables).resolve()),
        "GRIDSENSE_LANGUAGE": current.language,
        "GRIDSENSE_SITE_TIMEZONE": current.timezone,
    }


def _serve_only_what_is_registered() -> None:
    """A site without texts (or without a risk model) serves the other half: its workers are told not to
    wait for a model the registry says does not exist. Variables set by the operator are kept."""
    import os

    from core.settings import Settings
    from serving.text_service import ModelUri

    settings = Settings()
    halves = (
        (
            "GRIDSENSE_SERVE_TEXT",
            ModelUri.parse(settings.text_model_uri).name,
            "risk only (/v1/classify: 503)",
        ),
        ("GRIDSENSE_SERVE_RISK", settings.risk_model_name, "text only (/v1/risk: 503)"),
    )
    for variable, name, what in halves:
        if variable not in os.environ and name and not _registered(settings.mlflow_tracking_uri, name):
            os.environ[variable] = "false"
            print(f"  {name} is not registered: serving {what}")


def _registered(tracking_uri: str, name: str) -> bool:
    """False only when the registry answers that `name` does not exist; an unreachable registry counts
    as registered, so /readyz reports it."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        MlflowClient(tracking_uri, tracking_uri).get_registered_model(name)
    except MlflowException as exc:
        return exc.error_code != "RESOURCE_DOES_NOT_EXIST"
    return True


def _local_uri() -> str:
    from core.settings import tracking_uri

    return tracking_uri(project_root())


def ui(port: int = 5000) -> None:
    """Browse runs and the registry in the MLflow UI, bound to loopback only."""
    import subprocess

    root = project_root()
    subprocess.run(
        [
            "mlflow",
            "ui",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--backend-store-uri",
            _local_uri(),
            "--default-artifact-root",
            (root / "mlruns" / "artifacts").as_uri(),
        ],
        check=False,
    )

"""Operations commands of `gridsense`: retrain, promote, rollback, models, keys. Registered on the main
app by `cli.app` (`register(app)`); each command is a thin shell around `promotion.registry_ops` or
`core.key_admin`."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Column, Table

from cli.console import console
from cli.options import SiteOption
from cli.train import CorrectionsOption, CorrectionWeightOption
from core.home import project_root
from core.keys import KeyStoreError, Role
from core.registry import RISK_MODEL_NAME, TEXT_EXPERIMENT, TEXT_MODEL_NAME, site_model_names
from core.sites import load_site

REGISTRY_LOCK_TIMEOUT_SECONDS = 900  # a promotion loads and scores two models while holding the lock


class ModelKind(StrEnum):
    TEXT = "text"
    RISK = "risk"

    def registered_name(self, site: str | None = None) -> str:
        """This model's registered name for the site (default: GRIDSENSE_SITE)."""
        return load_site(site).model_name(TEXT_MODEL_NAME if self is ModelKind.TEXT else RISK_MODEL_NAME)


KindArgument = Annotated[ModelKind, typer.Argument(help="Which model: text or risk.")]

retrain_app = typer.Typer(
    help="Retrain a model on new data: log the run to MLflow, register a new version as `challenger`.",
    no_args_is_help=True,
)
keys_app = typer.Typer(
    help="API keys (stored as salted hashes; shown once at creation).", no_args_is_help=True
)


@retrain_app.command("text")
def retrain_text(
    data: Annotated[Path | None, typer.Option(help="Text training set (default: the site's).")] = None,
    taxonomy: Annotated[Path | None, typer.Option(help="Taxonomy YAML (default: the site's).")] = None,
    site: SiteOption = None,
    corrections: CorrectionsOption = True,
    correction_weight: CorrectionWeightOption = None,
) -> None:
    """Train the text model on DATA plus people's corrections and register it as the challenger (then:
    `gridsense promote text`, which also compares both on the newest corrections held out)."""
    from cli.train import train_text

    train_text(
        data=data,
        taxonomy=taxonomy,
        alias="challenger",
        site=site,
        corrections=corrections,
        correction_weight=correction_weight,
    )


@retrain_app.command("risk")
def retrain_risk(
    data: Annotated[Path | None, typer.Option(help="Grid x week panel (default: the site's).")] = None,
    test_weeks: Annotated[int, typer.Option(help="Latest labelled weeks held out for evaluation.")] = 13,
    site: SiteOption = None,
) -> None:
    """Train the risk model on DATA and register it as the challenger (then: `gridsense promote risk`)."""
    from cli.train import train_risk

    train_risk(panel=data, test_weeks=test_weeks, alias="challenger", site=site)


def promote(
    kind: KindArgument,
    force: Annotated[bool, typer.Option("--force", help="Promote even if the gate refuses.")] = False,
    reason: Annotated[
        str | None, typer.Option(help="Why the gate is overridden (required with --force).")
    ] = None,
    data: Annotated[
        Path | None, typer.Option(help="Text only: evaluation dataset (default: the challenger's).")
    ] = None,
    migrate_taxonomy: Annotated[
        bool,
        typer.Option(
            "--migrate-taxonomy",
            help="Text only: let a challenger trained on another taxonomy replace the champion (the API's "
            "label set changes; recorded in the audit log).",
        ),
    ] = False,
    site: SiteOption = None,
) -> None:
    """Make the challenger the champion if it beats the champion on the same evaluation set."""
    from promotion.registry_ops import PromotionError, default_evaluator
    from promotion.registry_ops import promote as promote_version
    from promotion.version_check import default_version_check

    client, audit, actor = _registry()
    name = kind.registered_name(site)
    try:
        result = promote_version(
            client,
            name,
            audit,
            actor,
            evaluator=default_evaluator(name, data),
            force=force,
            reason=reason,
            version_check=default_version_check(migrate_taxonomy=migrate_taxonomy),
            lock=_registry_lock(),
        )
    except PromotionError as exc:
        console.print(f"[red]refused[/]: {exc}")
        raise typer.Exit(1) from exc
    if result.comparison is not None:
        _print_comparison(result)
    if not result.promoted:
        console.print(
            f"[red]refused[/]: {name} version {result.challenger} stays challenger; "
            f"champion stays version {result.champion_before}.\n  {result.explanation}"
        )
        raise typer.Exit(1)
    how = "[yellow]forced[/] (reason recorded)" if result.forced else "[green]promoted[/]"
    console.print(
        f"{how}: {name} champion is now version {result.challenger} "
        f"(was {result.champion_before or 'none'}). Serving picks it up at its next poll or on "
        "POST /v1/admin/reload."
    )


def rollback(
    kind: KindArgument,
    to: Annotated[
        str | None,
        typer.Option(
            help="An earlier champion to roll back to (default: the latest earlier champion that passes "
            "the checks). A version that was never champion is refused: promote it through the gate."
        ),
    ] = None,
    site: SiteOption = None,
) -> None:
    """Point `champion` back at an earlier champion, if it passes the same version checks as a promotion
    (its stored validation sample, the champion's taxonomy)."""
    from promotion.registry_ops import PromotionError
    from promotion.registry_ops import rollback as rollback_version

    client, audit, actor = _registry()
    try:
        result = rollback_version(
            client, kind.registered_name(site), audit, actor, to_version=to, lock=_registry_lock()
        )
    except PromotionError as exc:
        console.print(f"[red]cannot roll back[/]: {exc}")
        raise typer.Exit(1) from exc
    for version, why in result.skipped.items():
        console.print(f"[yellow]skipped[/] version {version}: {why}")
    console.print(
        f"rolled back: {result.name} champion {result.champion_before} -> {result.champion}\n"
        f"  {result.evidence}"
    )


def models(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON (every field) instead of a table.")
    ] = False,
    site: SiteOption = None,
) -> None:
    """List the site's registered versions: aliases, key metrics, the site, data and taxonomy they were
    trained on, and their promotion records."""
    from dataclasses import asdict

    from promotion.registry_ops import list_versions

    current = load_site(site)
    client, _, _ = _registry()
    names = site_model_names(current.name)
    rows = [row for name in names for row in list_versions(client, name, current.name)]
    if as_json:
        print(json.dumps([asdict(row) for row in rows], ensure_ascii=False, indent=1))
        return
    columns = ("site", "model", "version", "aliases", "created", "key metrics", "trained on", "promotion")
    table = Table(*(Column(name, overflow="fold") for name in columns))  # wrap, never cut
    for row in rows:
        table.add_row(
            row.site,
            row.name,
            row.version,
            ",".join(row.aliases),
            row.created_at,
            "\n".join(f"{key}={value:.3f}" for key, value in row.metrics.items()),
            _trained_on(row.provenance),
            _promotion(row.tags),
        )
    console.print(table)


def _trained_on(provenance: dict[str, str]) -> str:
    data = provenance.get("data.path", "")
    if "data.content_hash" in provenance:
        data += f" ({provenance.get('data.rows', '?')} rows, {provenance['data.content_hash']})"
    if "taxonomy.fingerprint" in provenance:
        data += f"; taxonomy {provenance.get('taxonomy.version', '')} {provenance['taxonomy.fingerprint']}"
    return data


def _promotion(tags: dict[str, str]) -> str:
    promotion = tags.get("promotion_gate", "")
    if "promotion_reason" in tags:
        promotion += f": {tags['promotion_reason']}"
    if "validation_check" in tags:  # passed / failed, at the last promote or rollback
        promotion += f" (check {tags['validation_check'].split(' ', 1)[0]})"
    return promotion


def _registry():
    from mlflow import MlflowClient

    from core.audit import AuditLog, cli_actor
    from core.settings import Settings, tracking_uri
    from training.tracking import use_local_store

    root = project_root()
    use_local_store(root, TEXT_EXPERIMENT)
    uri = tracking_uri(root)
    return MlflowClient(uri, uri), AuditLog(Settings().audit_log_path), cli_actor()


def _registry_lock():
    """Held by promote and rollback: one registry change at a time from this machine."""
    from core.atomic_files import locked
    from core.settings import Settings

    directory = Settings().home / ".gridsense"
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    return locked(directory / "registry", timeout=REGISTRY_LOCK_TIMEOUT_SECONDS)


def _print_comparison(result) -> None:
    table = Table(
        "check",
        f"champion v{result.champion_before}",
        f"challenger v{result.challenger}",
        "ok",
        title=f"{result.name}: {result.comparison.eval_set}",
    )
    for check in result.decision.checks if result.decision else []:
        table.add_row(
            check.metric,
            f"{check.champion:.4f}",
            f"{check.challenger:.4f}",
            "[green]yes[/]" if check.passed else "[red]no[/]",
        )
    console.print(table)


# ---- keys -----------------------------------------------------------------------------------------------
@keys_app.command("create")
def keys_create(
    role: Annotated[Role, typer.Option(help="intake | supervisor | data_scientist")],
    label: Annotated[str, typer.Option(help="Who or what the key is for.")] = "",
) -> None:
    """Create a key; it is printed once and only its hash is stored."""
    from core.key_admin import KeyManager

    manager = KeyManager()
    created = manager.create(role, label)
    console.print(f"key id {created.record.key_id} ({role.value}) stored in {manager.path}")
    console.print("  the key (shown only now; send it as X-API-Key or Authorization: Bearer):")
    print(created.key)


@keys_app.command("list")
def keys_list(
    all_keys: Annotated[bool, typer.Option("--all", help="Include revoked keys.")] = False,
) -> None:
    """List keys (ids, roles, labels; never the keys)."""
    from core.key_admin import KeyManager

    table = Table("key id", "role", "label", "created", "revoked")
    for record in KeyManager().list(include_revoked=all_keys):
        table.add_row(
            record.key_id, record.role.value, record.label, record.created_at, record.revoked_at or ""
        )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key id (see `gridsense keys list`).")],
) -> None:
    """Revoke a key; the API refuses it within a second, without a restart."""
    from core.key_admin import KeyManager

    try:
        record = KeyManager().revoke(key_id)
    except KeyStoreError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc
    console.print(f"revoked {record.key_id} ({record.role.value})")


def print_demo_keys(port: int) -> dict[Role, str]:
    """Issue fresh demo keys for the three roles and print them with ready-to-paste exports."""
    from core.key_admin import KeyManager

    keys = KeyManager().issue_demo_keys()
    console.print("[bold]Demo API keys[/] (new at every start; the previous demo keys are revoked):")
    for role, key in keys.items():
        console.print(f"  {role.value:<15} {key}")
    console.print("  export GRIDSENSE_INTAKE_KEY=" + keys[Role.INTAKE], soft_wrap=True)
    console.print("  export GRIDSENSE_SUPERVISOR_KEY=" + keys[Role.SUPERVISOR], soft_wrap=True)
    console.print("  export GRIDSENSE_ADMIN_KEY=" + keys[Role.DATA_SCIENTIST], soft_wrap=True)
    return keys


def register(app: typer.Typer) -> None:
    app.add_typer(retrain_app, name="retrain")
    app.add_typer(keys_app, name="keys")
    app.command()(promote)
    app.command()(rollback)
    app.command()(models)

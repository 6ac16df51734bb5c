"""docs/SETTINGS.md is the one table of settings: it names every `Settings` field and no other, with the
default the code has, so it cannot drift from `core.settings`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SETTINGS_DOC = ROOT / "docs" / "SETTINGS.md"
TABLE_MARKER = "<!-- settings table"
ENV_NAME = re.compile(r"GRIDSENSE_[A-Z0-9_]+")


def env_var(field: str) -> str:
    return f"{Settings.model_config['env_prefix']}{field.upper()}"


def settings_table() -> dict[str, list[str]]:
    """env var -> the row's cells (env var, type, default, what it does)."""
    lines = SETTINGS_DOC.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(TABLE_MARKER))
    rows: dict[str, list[str]] = {}
    for line in lines[start + 3 :]:  # marker, header, separator
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
        names = ENV_NAME.findall(cells[0])
        assert len(names) == 1, f"one env var per row: {line}"
        assert names[0] not in rows, f"{names[0]} has two rows"
        rows[names[0]] = cells
    return rows


def documented_default(value: object) -> str:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, str):
        return value or "(empty)"
    return repr(value)


def test_the_prefix_is_gridsense():
    assert Settings.model_config["env_prefix"] == "GRIDSENSE_"


def test_every_field_has_a_row_and_every_row_a_field():
    documented = set(settings_table())
    fields = {env_var(name) for name in Settings.model_fields}
    assert fields - documented == set(), "settings missing from docs/SETTINGS.md"
    assert documented - fields == set(), "rows of docs/SETTINGS.md that are no Settings field"


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
def test_the_documented_default_is_the_code_default(field):
    cells = settings_table()[env_var(field)]
    default = Settings.model_fields[field].get_default(call_default_factory=True)
    assert cells[2].strip("`") == documented_default(default)


def other_variables() -> set[str]:
    """The GRIDSENSE_* names in the first column of the "Other environment variables" table."""
    section = SETTINGS_DOC.read_text(encoding="utf-8").split("## Other environment variables", 1)[1]
    first_cells = (line.strip("|").split("|")[0] for line in section.splitlines() if line.startswith("|"))
    return {name for cell in first_cells for name in ENV_NAME.findall(cell)}


def test_docs_name_only_real_settings():
    """A GRIDSENSE_* name anywhere in the docs is a setting or listed under "Other environment variables"."""
    fields = {env_var(name) for name in Settings.model_fields}
    others = other_variables()
    assert others & fields == set(), "a setting belongs in the settings table"
    docs = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    unknown = {
        f"{path.name}: {name}"
        for path in docs
        for name in ENV_NAME.findall(path.read_text(encoding="utf-8"))
        if name not in fields | others
    }
    assert unknown == set()

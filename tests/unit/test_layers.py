"""The layers of docs/ARCHITECTURE.md hold, and a wrong import would fail the build (import-linter)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter is not installed")


def root_packages() -> list[str]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["root_packages"]


def lint_imports(tree: Path, *contracts: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", *(arg for c in contracts for arg in ("--contract", c))],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def tree_copy(tmp_path_factory) -> Path:
    """The packages and the contracts, copied so that a test can plant a wrong import."""
    tree = tmp_path_factory.mktemp("tree")
    for package in root_packages():
        shutil.copytree(
            ROOT / package, tree / package, ignore=shutil.ignore_patterns("__pycache__", "static")
        )
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    return tree


def test_the_code_keeps_its_layers(tree_copy):
    result = lint_imports(tree_copy)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "wrong_import", "contract"),
    [
        ("serving/deps.py", "import training.tracking", "layers"),  # serving never imports training
        ("features/text.py", "import models.pyfunc", "layers"),  # the core knows no caller
        ("core/settings.py", "import features.text", "layers"),  # core imports nothing of the project
        ("batch/forecast.py", "import cli.app", "layers"),  # nothing imports the CLI
        ("models/text_tfidf.py", "import typer", "typer-only-in-cli"),  # only the CLI uses Typer
    ],
)
def test_a_wrong_import_fails_the_check(tree_copy, module, wrong_import, contract):
    path = tree_copy / module
    original = path.read_text()
    try:
        path.write_text(original + f"\n{wrong_import}  # planted by the test\n")
        result = lint_imports(tree_copy, contract)
    finally:
        path.write_text(original)
    assert result.returncode == 1, result.stdout
    assert "0 kept, 1 broken" in result.stdout
    importer = module.removesuffix(".py").replace("/", ".")
    assert f"{importer} -> {wrong_import.split()[-1]}" in result.stdout  # names the offending import

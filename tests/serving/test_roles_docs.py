"""The roles as documented (docs/OPERATIONS.md, the OpenAPI tag descriptions) are what the API grants:
each is checked against every role calling every route."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import serving.auth
from core.keys import Role
from serving.auth import ROLE_PERMISSIONS, Permission
from serving.deps import get_resources

from .test_auth_matrix import call, operations

OPERATIONS_DOC = Path(__file__).parents[2] / "docs" / "OPERATIONS.md"
TABLE_MARKER = "<!-- roles table"
OPEN_ROUTES = {("GET", "/healthz")}


@pytest.fixture
def granted(app, loaded, api_keys) -> dict[tuple[str, str], set[Role]]:
    """Each operation -> the roles it lets through (anything but 401/403)."""
    app.dependency_overrides[get_resources] = lambda: loaded
    client = TestClient(app, raise_server_exceptions=False)
    matrix = {
        operation: {
            role
            for role in Role
            if call(client, *operation, {"X-API-Key": api_keys[role.value]}).status_code not in (401, 403)
        }
        for operation in operations(client)
    }
    app.dependency_overrides.clear()
    return matrix


def documented_roles_table() -> dict[tuple[str, str], set[Role]]:
    lines = OPERATIONS_DOC.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(TABLE_MARKER))
    header = [cell.strip(" `") for cell in lines[start + 1].strip("|").split("|")]
    table: dict[tuple[str, str], set[Role]] = {}
    for line in lines[start + 3 :]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        roles = {Role(name) for name, cell in zip(header[1:], cells[1:], strict=True) if cell == "✓"}
        for method, path in re.findall(r"`(GET|POST|PUT|DELETE|PATCH) ([^`]+)`", cells[0]):
            table[(method, path)] = roles
    return table


def expected_table(granted: dict[tuple[str, str], set[Role]]) -> str:
    rows = [
        f"| `{method} {path}` | " + " | ".join("✓" if role in roles else "" for role in Role) + " |"
        for (method, path), roles in sorted(granted.items())
        if (method, path) not in OPEN_ROUTES
    ]
    return "\n".join(rows)


def test_the_operations_roles_table_is_what_the_api_grants(granted):
    documented = documented_roles_table()
    actual = {operation: roles for operation, roles in granted.items() if operation not in OPEN_ROUTES}

    assert documented == actual, f"docs/OPERATIONS.md roles table should say:\n{expected_table(granted)}"


def test_supervisors_may_classify_and_list_models_as_documented():
    documented = documented_roles_table()

    assert Role.SUPERVISOR in documented[("POST", "/v1/classify")]
    assert Role.SUPERVISOR in documented[("GET", "/v1/models")]


def test_openapi_tag_descriptions_name_the_roles_each_route_grants(client, granted):
    spec = client.get("/openapi.json").json()
    tag_roles = {
        tag["name"]: {
            Role(name) for name in re.search(r"\(roles: ([^)]*)\)", tag["description"])[1].split(", ")
        }
        for tag in spec["tags"]
    }
    problems = [
        f"{method} {path}: tag {tag!r} says {sorted(tag_roles[tag])}, the API grants {sorted(roles)}"
        for (method, path), roles in granted.items()
        for tag in spec["paths"][path][method.lower()]["tags"]
        if tag_roles[tag] != roles
    ]

    assert not problems, "\n".join(problems)


def test_tag_roles_come_from_the_role_table():
    from serving.main import TAG_PERMISSIONS, openapi_tags

    for tag in openapi_tags():
        permission = TAG_PERMISSIONS[tag["name"]][1]
        roles = [role.value for role in Role if permission in ROLE_PERMISSIONS[role]]
        assert tag["description"].endswith(f"(roles: {', '.join(roles)}).")


def test_the_auth_module_docstring_states_the_supervisor_grants():
    doc = serving.auth.__doc__ or ""

    assert "ROLE_PERMISSIONS" in doc
    assert {Permission.CLASSIFY, Permission.MODELS} <= ROLE_PERMISSIONS[Role.SUPERVISOR]
    assert "also classify and list models" in doc

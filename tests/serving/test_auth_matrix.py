"""Every role against every route: 401 without a valid key, 403 for the wrong role, through otherwise."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from core.keys import KeyFile, Role
from serving.auth import ROLE_PERMISSIONS, Permission
from serving.deps import get_resources

# The core routes and the permission each needs (None: open). Routes added by other features are
# checked generically: each must need a key and let through exactly the roles of one permission.
ROUTES: dict[tuple[str, str], Permission | None] = {
    ("POST", "/v1/classify"): Permission.CLASSIFY,
    ("GET", "/v1/risk"): Permission.RISK,
    ("GET", "/v1/models"): Permission.MODELS,
    ("POST", "/v1/admin/reload"): Permission.ADMIN,
    ("GET", "/v1/admin/whoami"): Permission.ADMIN,
    ("GET", "/metrics"): Permission.METRICS,
    ("GET", "/readyz"): Permission.STATUS,
    ("GET", "/healthz"): None,
}
OPEN = {route for route, needed in ROUTES.items() if needed is None}
BODIES = {"/v1/classify": {"text": "楼道里堆满杂物，消防通道被堵死了"}}
ROLES_OF = {
    permission: {role for role in Role if permission in ROLE_PERMISSIONS[role]} for permission in Permission
}


def call(client: TestClient, method: str, path: str, headers: dict[str, str] | None = None):
    concrete = re.sub(r"\{[^}]+\}", "G0001", path)  # path parameters: a grid id
    return client.request(method, concrete, json=BODIES.get(path), headers=headers or {})


def key_of(role: Role, api_keys: dict[str, str]) -> str:
    return api_keys[role.value]


def operations(client: TestClient) -> list[tuple[str, str]]:
    spec = client.get("/openapi.json").json()
    return sorted((method.upper(), path) for path, item in spec["paths"].items() for method in item)


def test_the_core_routes_are_all_in_the_api(client):
    assert set(ROUTES) <= set(operations(client))


def test_role_matrix_every_role_against_every_route(app, loaded, api_keys):
    app.dependency_overrides[get_resources] = lambda: loaded
    client = TestClient(app, raise_server_exceptions=False)
    matrix = {
        operation: {
            role: call(client, *operation, {"X-API-Key": api_keys[role.value]}).status_code for role in Role
        }
        for operation in operations(client)
    }

    problems = []
    for operation, statuses in matrix.items():
        allowed = {role for role, status in statuses.items() if status != 403}
        if any(status == 401 for status in statuses.values()):
            problems.append(f"{operation}: a valid key got 401: {statuses}")
        if operation in ROUTES:
            needed = ROUTES[operation]
            expected = set(Role) if needed is None else ROLES_OF[needed]
            if allowed != expected:
                problems.append(f"{operation}: allowed {sorted(allowed)}, expected {sorted(expected)}")
        elif allowed not in ROLES_OF.values():
            problems.append(f"{operation}: allowed {sorted(allowed)} matches no permission")
    assert not problems, "\n".join(problems)
    # a data scientist may use every route but the one that writes the labels the next model learns from
    refused = {operation for operation, statuses in matrix.items() if statuses[Role.DATA_SCIENTIST] == 403}
    assert refused == {("POST", "/v1/feedback")}
    assert matrix[("POST", "/v1/classify")][Role.INTAKE] == 200
    assert matrix[("GET", "/v1/risk")][Role.SUPERVISOR] == 200


def test_every_route_but_healthz_needs_a_key(app, assert_error):
    client = TestClient(app, raise_server_exceptions=False)

    for operation in operations(client):
        response = call(client, *operation)
        if operation in OPEN:
            assert response.status_code == 200
        else:
            assert_error(response, 401, "unauthorized", None)


def test_the_three_roles_are_as_specified():
    assert ROLE_PERMISSIONS[Role.INTAKE] >= {Permission.CLASSIFY}
    assert Permission.RISK not in ROLE_PERMISSIONS[Role.INTAKE]
    # the dashboard's playground classifies and its models panel reads the registry
    assert ROLE_PERMISSIONS[Role.SUPERVISOR] >= {
        Permission.RISK,
        Permission.DASHBOARD,
        Permission.CLASSIFY,
        Permission.MODELS,
    }
    assert not ROLE_PERMISSIONS[Role.SUPERVISOR] & {Permission.ADMIN, Permission.METRICS}
    assert ROLE_PERMISSIONS[Role.DATA_SCIENTIST] == set(Permission) - {Permission.FEEDBACK}
    assert Permission.FEEDBACK in ROLE_PERMISSIONS[Role.INTAKE] & ROLE_PERMISSIONS[Role.SUPERVISOR]


@pytest.mark.parametrize(("method", "path"), [route for route, needed in ROUTES.items() if needed])
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-API-Key": ""},
        {"X-API-Key": "gs_000000000000_not-a-real-secret"},
        {"X-API-Key": "garbage"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ],
    ids=["none", "empty", "unknown", "malformed", "basic-auth"],
)
def test_missing_or_invalid_keys_are_401(app, assert_error, method, path, headers):
    response = call(TestClient(app), method, path, headers)

    assert_error(response, 401, "unauthorized", None)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_healthz_and_the_api_description_need_no_key(app):
    client = TestClient(app)

    assert client.get("/healthz").status_code == 200
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/docs").status_code == 200


def test_bearer_token_works_like_the_header(app, loaded, api_keys):
    from serving.deps import get_resources

    app.dependency_overrides[get_resources] = lambda: loaded
    client = TestClient(app)

    response = client.get("/v1/risk", headers={"Authorization": f"Bearer {api_keys['supervisor']}"})

    assert response.status_code == 200, response.text


def test_a_wrong_secret_for_a_real_key_id_is_refused(app, api_keys):
    key_id = api_keys["data_scientist"].split("_")[1]

    response = TestClient(app).get("/readyz", headers={"X-API-Key": f"gs_{key_id}_wrong-secret"})

    assert response.status_code == 401


def test_revocation_applies_without_a_restart(app, settings, loaded, api_keys):
    from serving.deps import get_resources

    app.dependency_overrides[get_resources] = lambda: loaded
    client = TestClient(app, headers={"X-API-Key": api_keys["intake"]})
    assert call(client, "POST", "/v1/classify").status_code == 200

    KeyFile(settings.api_keys_path).revoke(api_keys["intake"].split("_")[1])

    assert call(client, "POST", "/v1/classify").status_code == 401


def test_openapi_documents_both_key_schemes(client):
    schemes = client.get("/openapi.json").json()["components"]["securitySchemes"]

    assert schemes["APIKeyHeader"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "An API key.",
    }
    assert schemes["HTTPBearer"]["scheme"] == "bearer"


def test_cors_is_off_by_default(client):
    response = client.options(
        "/v1/classify", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )

    assert "access-control-allow-origin" not in response.headers


def test_whoami_names_the_key_for_a_proxy(app, api_keys):
    key = api_keys["data_scientist"]

    response = TestClient(app).get("/v1/admin/whoami", headers={"Authorization": f"Bearer {key}"})

    assert response.json() == {"key_id": key.split("_")[1], "role": "data_scientist"}

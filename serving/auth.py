"""Who may call what: API keys (header `X-API-Key` or `Authorization: Bearer`) mapped to roles.

`ROLE_PERMISSIONS` below is the one statement of what each role may do: intake classifies; supervisors
read risk and the dashboard tables, and also classify and list models (the dashboard's playground and
models panel); data_scientist may do everything, admin endpoints and /metrics included. The roles table
in docs/OPERATIONS.md and the OpenAPI tag descriptions are derived from it and checked against it
(tests/serving/test_roles_docs.py).

A missing key is 401, a key whose role lacks the permission 403. `/healthz`, the API description
(`/docs`, `/openapi.json`) and the dashboard page need no key; every other route declares its permission
with `require(...)`, and routers use `KeyFirstRoute` so the key and role are checked before the request
body is read or parsed. The dependencies are `async` because they are cheap: FastAPI would run sync ones
in a thread.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

from fastapi import Depends, Request, Response, Security
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from core.keys import KeyVerifier, Role
from serving.errors import ForbiddenError, UnauthorizedError
from serving.rate_limit import enforce_rate_limit

API_KEY_HEADER = "X-API-Key"


class Permission(StrEnum):
    CLASSIFY = "classify"
    RISK = "risk"
    DASHBOARD = "dashboard"
    STATUS = "status"  # /readyz
    MODELS = "models"  # registry listing
    ADMIN = "admin"  # reloads
    METRICS = "metrics"
    FEEDBACK = "feedback"  # a dispatcher's corrections (POST /v1/feedback)
    REVIEW = "review"  # the review queue (GET /v1/review-queue)


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.INTAKE: frozenset({Permission.CLASSIFY, Permission.STATUS, Permission.FEEDBACK}),
    # The dashboard's intake playground and models panel are part of the supervisors' page (issue 5).
    Role.SUPERVISOR: frozenset(
        {
            Permission.RISK,
            Permission.DASHBOARD,
            Permission.STATUS,
            Permission.CLASSIFY,
            Permission.MODELS,
            Permission.FEEDBACK,
            Permission.REVIEW,
        }
    ),
    # Corrections are the dispatchers' word (intake systems, supervisors); a data scientist's key may not
    # write the labels the next model trains on.
    Role.DATA_SCIENTIST: frozenset(Permission) - {Permission.FEEDBACK},
}


@dataclass(frozen=True)
class Principal:
    key_id: str
    role: Role

    def may(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]


_api_key_scheme = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, description="An API key.")
_bearer_scheme = HTTPBearer(auto_error=False, description="The same API key as a bearer token.")


async def get_key_verifier(request: Request) -> KeyVerifier:
    return request.app.state.key_verifier


async def authenticate(
    request: Request,
    verifier: Annotated[KeyVerifier, Depends(get_key_verifier)],
    api_key: Annotated[str | None, Security(_api_key_scheme)] = None,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer_scheme)] = None,
) -> Principal:
    checked: Principal | None = getattr(request.state, "principal", None)  # by KeyFirstRoute
    if checked is not None:
        return checked
    return identify(request, verifier, api_key or (bearer.credentials if bearer else None))


def identify(request: Request, verifier: KeyVerifier, presented: str | None) -> Principal:
    if not presented:
        raise UnauthorizedError(f"missing API key: send it in the {API_KEY_HEADER} header")
    record = verifier.verify(presented)
    if record is None:
        raise UnauthorizedError("invalid or revoked API key")
    principal = Principal(key_id=record.key_id, role=record.role)
    request.state.principal = principal  # for the access log
    return principal


def check_permission(principal: Principal, permission: Permission) -> None:
    if not principal.may(permission):
        raise ForbiddenError(
            f"role {principal.role.value!r} may not use this endpoint (needs {permission.value!r})"
        )


def require(permission: Permission):
    """A dependency that lets through only keys whose role has `permission`; gives the principal."""

    async def dependency(
        request: Request, principal: Annotated[Principal, Depends(authenticate)]
    ) -> Principal:
        check_permission(principal, permission)
        await enforce_rate_limit(request, principal.key_id, principal.role)  # 429 with Retry-After
        return principal

    dependency.permission = permission  # type: ignore[attr-defined]  # read by the route audit test
    return Depends(dependency)


def route_permissions(dependant: Dependant) -> frozenset[Permission]:
    """The permissions a route's dependencies `require(...)`, at any depth."""
    found = {getattr(dependant.call, "permission", None)}
    for child in dependant.dependencies:
        found |= route_permissions(child)
    return frozenset(found - {None})


def roles_with(permission: Permission) -> list[Role]:
    return [role for role in Role if permission in ROLE_PERMISSIONS[role]]


class KeyFirstRoute(APIRoute):
    """A route that checks the key and the role before anything else: FastAPI reads and parses the body
    before it solves dependencies, so without this a request with no key and a broken body got a 422,
    and an anonymous client could make the server read and parse a body."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        permissions = route_permissions(self.dependant)
        if not permissions:
            return handler

        async def key_first(request: Request) -> Response:
            presented = await _api_key_scheme(request)
            if not presented:
                bearer = await _bearer_scheme(request)
                presented = bearer.credentials if bearer else None
            principal = identify(request, await get_key_verifier(request), presented)
            for permission in permissions:
                check_permission(principal, permission)
            return await handler(request)

        return key_first

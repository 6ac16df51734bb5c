"""Who may call what: API keys (header `X-API-Key` or `Authorization: Bearer`) mapped to roles.

- intake: classify;
- supervisor: risk reads and the dashboard;
- data_scientist: everything, including the admin endpoints and /metrics.

A missing key is 401, a key whose role lacks the permission 403. `/healthz` and the API description
(`/docs`, `/openapi.json`) need no key; every other route declares its permission with `require(...)`.
The dependencies are `async` because they are cheap: FastAPI would run sync ones in a thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from serving.errors import ForbiddenError, UnauthorizedError
from serving.keys_store import KeyVerifier, Role
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


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.INTAKE: frozenset({Permission.CLASSIFY, Permission.STATUS}),
    # The dashboard's intake playground and models panel are part of the supervisors' page (issue 5).
    Role.SUPERVISOR: frozenset(
        {Permission.RISK, Permission.DASHBOARD, Permission.STATUS, Permission.CLASSIFY, Permission.MODELS}
    ),
    Role.DATA_SCIENTIST: frozenset(Permission),
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
    presented = api_key or (bearer.credentials if bearer else None)
    if not presented:
        raise UnauthorizedError(f"missing API key: send it in the {API_KEY_HEADER} header")
    record = verifier.verify(presented)
    if record is None:
        raise UnauthorizedError("invalid or revoked API key")
    principal = Principal(key_id=record.key_id, role=record.role)
    request.state.principal = principal  # for the access log
    return principal


def require(permission: Permission):
    """A dependency that lets through only keys whose role has `permission`; gives the principal."""

    async def dependency(
        request: Request, principal: Annotated[Principal, Depends(authenticate)]
    ) -> Principal:
        if not principal.may(permission):
            raise ForbiddenError(
                f"role {principal.role.value!r} may not use this endpoint (needs {permission.value!r})"
            )
        await enforce_rate_limit(request, principal.key_id, principal.role)  # 429 with Retry-After
        return principal

    dependency.permission = permission  # type: ignore[attr-defined]  # read by the route audit test
    return Depends(dependency)

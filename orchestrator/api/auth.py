"""Bearer-token authentication and role-based authorisation for every endpoint.

`require(permission)` is the only way an endpoint states who may call it; the permission is
kept on the dependency so `route_permission` (and the RBAC matrix test) can read every route's
rule from the app itself. Environment scope is checked by the endpoints that know the incident
or alert environment, with `can_access`; reads of many scope by `visible_environments`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from orchestrator.api.deps import get_engine
from orchestrator.db import quick_read
from orchestrator.domain import Environment
from orchestrator.errors import Forbidden, Unauthorized
from orchestrator.principals.models import ROLE_PERMISSIONS, Permission, Principal
from orchestrator.principals.service import authenticate

__all__ = [
    "ROLE_PERMISSIONS",
    "Endpoint",
    "Permission",
    "Principal",
    "can_access",
    "endpoints",
    "require",
    "route_permission",
    "visible_environments",
]

_bearer = HTTPBearer(auto_error=False, description="A Firebreak API token (fbk_...).")
PERMISSION_ATTRIBUTE = "firebreak_permission"


def can_access(principal: Principal, environment: Environment) -> bool:
    return environment in principal.environments


def visible_environments(principal: Principal) -> list[str]:
    """The environments the caller may see, for reads that scope by them in SQL, so an
    incident out of scope looks absent."""
    return [env.value for env in Environment if can_access(principal, env)]


def require(permission: Permission) -> Callable[..., Awaitable[Principal]]:
    """A FastAPI dependency: the caller's principal, 401 without a valid token, 403 when the
    role lacks `permission`."""

    async def dependency(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        engine: Annotated[sa.Engine, Depends(get_engine)],
    ) -> Principal:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise Unauthorized("a bearer token is required")
        principal = await quick_read(engine, authenticate, engine, credentials.credentials)
        if principal is None:
            raise Unauthorized("the token is unknown or revoked")
        if not principal.has(permission):
            raise Forbidden(f"role {principal.role.value!r} lacks permission {permission.value!r}")
        return principal

    setattr(dependency, PERMISSION_ATTRIBUTE, permission)
    dependency.__name__ = f"require_{permission.name}"
    return dependency


@dataclass(frozen=True)
class Endpoint:
    """One method + path of the app and the permission it declared (None: public)."""

    method: str
    path: str
    permission: Permission | None


def endpoints(app: FastAPI) -> list[Endpoint]:
    """Every API endpoint of `app`, including those of included routers."""
    found = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or context.path is None:
            continue
        for method in sorted(context.methods or ()):
            found.append(Endpoint(method, context.path, route_permission(route)))
    return found


def route_permission(route: APIRoute) -> Permission | None:
    """The permission a route declared through `require`, or None for a public route."""
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        found = getattr(dep.call, PERMISSION_ATTRIBUTE, None)
        if isinstance(found, Permission):
            return found
        stack.extend(dep.dependencies)
    return None

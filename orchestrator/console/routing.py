"""How every console route answers: security headers always, and HTML instead of problem+json.

`ConsoleRoute` wraps each handler, so a user's mistake (bad filter, unknown incident, missing
CSRF token, a step that no longer waits) becomes a friendly page with the right status, never a
500; a browser without a session is sent to the sign-in page. `signed_in` is the console's
`require`: it names its permission the same way, so tests can read every page's rule.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Annotated, Any
from urllib.parse import quote

import anyio
import sqlalchemy as sa
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.exceptions import HTTPException

from orchestrator.api.auth import PERMISSION_ATTRIBUTE, Endpoint, route_permission
from orchestrator.api.deps import get_engine
from orchestrator.console import service
from orchestrator.console.models import ConsoleSession
from orchestrator.console.rendering import render
from orchestrator.console.security import (
    CSRF_FIELD,
    HEADERS,
    SESSION_COOKIE,
    check_csrf,
    check_origin,
    read_cookie,
)
from orchestrator.errors import FirebreakError, Forbidden, Unauthorized
from orchestrator.principals.models import Permission

log = logging.getLogger(__name__)
LOGIN_PATH = "/console/login"


class SignInRequired(Unauthorized):
    """No live session: a page sends the browser to sign in, a form post gets a 401 page."""


class ConsoleRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def console_handler(request: Request) -> Response:
            try:
                response = await handler(request)
            except SignInRequired as exc:
                response = _sign_in_first(request, exc)
            except FirebreakError as exc:
                if exc.status >= 500:
                    log.warning("%s: %s", exc.title, exc.detail)
                response = error_page(exc.status, exc.title, exc.detail)
            except RequestValidationError as exc:
                response = error_page(422, "Invalid input", _first_error(exc))
            except HTTPException as exc:
                detail = exc.detail if isinstance(exc.detail, str) else "request refused"
                response = error_page(exc.status_code, "Request refused", detail)
            response.headers.update(HEADERS)
            return response

        return console_handler


def console_endpoints(app: FastAPI) -> list[Endpoint]:
    """Every console route of `app` with the permission it declared (None: public). They
    authenticate by session cookie, so the bearer-token RBAC matrix leaves them to this list."""
    found = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, ConsoleRoute) and context.path is not None:
            for method in sorted(context.methods or ()):
                found.append(Endpoint(method, context.path, route_permission(route)))
    return found


def error_page(status: int, title: str, detail: str) -> Response:
    return render("error.html", {"status": status, "title": title, "detail": detail}, status=status)


def _first_error(exc: RequestValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return "the request is not valid"
    first = errors[0]
    field = ".".join(str(p) for p in first.get("loc", ())[1:]) or "request"
    return f"{field}: {first.get('msg', 'invalid')}"


def _sign_in_first(request: Request, exc: SignInRequired) -> Response:
    if request.method == "GET":
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"{LOGIN_PATH}?next={quote(target, safe='')}", status_code=303)
    return error_page(401, exc.title, exc.detail)


def safe_next(target: str | None) -> str:
    """Only a console path is a sign-in's destination: never another host (open redirect)."""
    if (
        target
        and target.startswith("/console/")
        and "\\" not in target
        and not target.startswith(LOGIN_PATH)
    ):
        return target
    return "/console/incidents"


async def current_session(
    request: Request, engine: Annotated[sa.Engine, Depends(get_engine)]
) -> ConsoleSession:
    session_id = read_cookie(request, SESSION_COOKIE)
    if session_id is None:
        raise SignInRequired("sign in to use the console")
    session = await anyio.to_thread.run_sync(service.resolve, engine, session_id)
    if session is None:
        raise SignInRequired("your session has ended (signed out, expired or revoked)")
    return session


def _check_permission(session: ConsoleSession, permission: Permission) -> None:
    if not session.principal.has(permission):
        role = session.principal.role.value
        raise Forbidden(f"role {role!r} lacks permission {permission.value!r}")


def signed_in(permission: Permission) -> Callable[..., Awaitable[ConsoleSession]]:
    """A dependency: the live session, whose principal must hold `permission`."""

    async def dependency(
        session: Annotated[ConsoleSession, Depends(current_session)],
    ) -> ConsoleSession:
        _check_permission(session, permission)
        return session

    setattr(dependency, PERMISSION_ATTRIBUTE, permission)
    dependency.__name__ = f"console_{permission.name}"
    return dependency


def posted(permission: Permission) -> Callable[..., Awaitable[ConsoleSession]]:
    """`signed_in` for a form post: same-origin, and carrying this session's CSRF token."""

    async def dependency(
        request: Request, session: Annotated[ConsoleSession, Depends(current_session)]
    ) -> ConsoleSession:
        _check_permission(session, permission)
        check_origin(request)
        form = await request.form()
        check_csrf(session.csrf_token, form.get(CSRF_FIELD))
        return session

    setattr(dependency, PERMISSION_ATTRIBUTE, permission)
    dependency.__name__ = f"console_post_{permission.name}"
    return dependency


def page_context(session: ConsoleSession, **extra: Any) -> dict[str, Any]:
    """What the layout needs on every signed-in page: who, what they may do, the form token."""
    principal = session.principal
    return {
        "principal": principal,
        "can_decide": principal.has(Permission.incidents_decide),
        "can_audit": principal.has(Permission.audit_read),
        "can_suppress": principal.has(Permission.suppressions_read),
        "csrf_token": session.csrf_token,
        **extra,
    }

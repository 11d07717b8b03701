"""The console's browser-facing defences: cookies, CSRF tokens, Origin checks, headers.

Cookies are HttpOnly and SameSite=Strict, `Secure` with the `__Host-` prefix over https (the
prefix pins them to this host and path `/`; browsers refuse it on plain http, so local
`firebreak up` uses the bare name). Every POST carries a CSRF token in a hidden field, compared
in constant time: the session's own, or before sign-in a double-submit cookie. A POST whose
Origin header names another origin is refused outright.
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import Request
from fastapi.responses import Response

from orchestrator.errors import Forbidden

SESSION_COOKIE = "firebreak_session"
LOGIN_CSRF_COOKIE = "firebreak_signin"
CSRF_FIELD = "csrf_token"

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    # Not `no-referrer`: under it browsers send `Origin: null` even on same-origin form posts,
    # which would make the Origin check below impossible. `same-origin` still sends nothing
    # (no URL, no incident id) to any other site.
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def cookie_name(request: Request, base: str) -> str:
    return f"__Host-{base}" if is_https(request) else base


def read_cookie(request: Request, base: str) -> str | None:
    return request.cookies.get(cookie_name(request, base))


def set_cookie(
    request: Request, response: Response, base: str, value: str, max_age: int | None
) -> None:
    response.set_cookie(
        cookie_name(request, base),
        value,
        max_age=max_age,
        path="/",
        secure=is_https(request),
        httponly=True,
        samesite="strict",
    )


def clear_cookie(request: Request, response: Response, base: str) -> None:
    response.delete_cookie(
        cookie_name(request, base),
        path="/",
        secure=is_https(request),
        httponly=True,
        samesite="strict",
    )


def new_token() -> str:
    return secrets.token_urlsafe(32)


def check_csrf(expected: str | None, presented: object) -> None:
    """Refuse unless `presented` (a form field) equals `expected`, compared in constant time."""
    if not expected or not isinstance(presented, str) or not presented:
        raise Forbidden("the form is missing its CSRF token; reload the page and try again")
    if not hmac.compare_digest(expected.encode(), presented.encode()):
        raise Forbidden("the form's CSRF token does not match; reload the page and try again")


def check_origin(request: Request) -> None:
    """Refuse a state-changing request that another site's page sent (Origin mismatch).

    `Origin: null` (a sandboxed frame, a `data:` page, a cross-site redirect) is refused too.
    """
    origin = request.headers.get("origin")
    if origin is None:
        return
    own = f"{request.url.scheme}://{request.url.netloc}"
    if origin != own:
        raise Forbidden("the request came from another origin")

"""Who may open which console page, over plain HTTP against the real stack: every console
route x admin / responder / auditor / source / no session, plus the session's own rules (CSRF,
Origin, revocation, expiry, sign-out) and the security headers on every answer.

Console routes are enumerated from the app, so a new page without a row here fails the test.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import sqlalchemy as sa

from orchestrator import db
from orchestrator.api.app import create_app
from orchestrator.api.auth import endpoints
from orchestrator.audit import open_event_store
from orchestrator.console.routing import console_endpoints
from orchestrator.console.security import CONTENT_SECURITY_POLICY
from orchestrator.domain import Role
from orchestrator.principals.models import ROLE_PERMISSIONS, Permission
from orchestrator.principals.service import create_principal, revoke_principal
from orchestrator.settings import Settings
from tests.console.conftest import http_sign_in
from tests.support.incidents import eventually
from tests.support.principals import Tokens
from tests.support.stories import Story

# method, route path -> (concrete path, status for a permitted caller)
ROUTES: dict[tuple[str, str], tuple[str, int]] = {
    ("GET", "/"): ("/", 303),
    ("GET", "/console"): ("/console", 303),
    ("GET", "/console/static/{name}"): ("/console/static/console.js", 200),
    ("GET", "/console/login"): ("/console/login", 200),
    ("POST", "/console/login"): ("/console/login", 403),  # no sign-in CSRF cookie: refused
    ("POST", "/console/logout"): ("/console/logout", 303),
    ("GET", "/console/incidents"): ("/console/incidents", 200),
    ("GET", "/console/incidents/{incident_id}"): ("/console/incidents/{incident}", 200),
    ("POST", "/console/incidents/{incident_id}/steps/{step_id}/decisions"): (
        "/console/incidents/{incident}/steps/quarantine/decisions",
        404,  # a ledger-only incident has no workflow to decide in
    ),
    ("GET", "/console/incidents/{incident_id}/report"): (
        "/console/incidents/{incident}/report",
        200,
    ),
    ("POST", "/console/incidents/{incident_id}/merge"): (
        "/console/incidents/{incident}/merge",
        422,  # the form sent no incident to merge into
    ),
    ("GET", "/console/approvals"): ("/console/approvals", 200),
    ("GET", "/console/audit"): ("/console/audit", 200),
    ("GET", "/console/audit/export"): ("/console/audit/export", 200),
    ("GET", "/console/metrics"): ("/console/metrics", 200),
    ("GET", "/console/suppressions"): ("/console/suppressions", 200),
    ("POST", "/console/suppressions"): ("/console/suppressions", 422),  # the form is empty
    ("POST", "/console/suppressions/{window_id}/end"): (
        "/console/suppressions/0123456789abcdef/end",
        404,  # no such window
    ),
    ("GET", "/console/{rest:path}"): ("/console/no-such-page", 404),
}
PUBLIC = {"/", "/console", "/console/static/{name}", "/console/login"}
SIGNED_IN_ANYONE = {"/console/{rest:path}"}


def console_routes(settings: Settings) -> list[tuple[str, str, Permission | None]]:
    app = create_app(settings, store=open_event_store(settings))
    console = console_endpoints(app)
    others = {e.path for e in endpoints(app)} - {e.path for e in console}
    assert not [p for p in others if p == "/" or p.startswith("/console")], "not ConsoleRoutes"
    return [(e.method, e.path, e.permission) for e in console]


def assert_headers(response: httpx.Response) -> None:
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"


async def test_every_console_route_for_every_role(
    api: tuple[str, Tokens], fb_settings: Settings
) -> None:
    url, tokens = api
    engine = db.make_engine(fb_settings.db_url)
    admin = create_principal(engine, "root", Role.admin, [])[1]
    story = Story(open_event_store(fb_settings), title="Ledger-only incident").open()
    routes = console_routes(fb_settings)
    assert sorted((m, p) for m, p, _ in routes) == sorted(ROUTES), "console routes changed"

    async def visible() -> bool:
        async with httpx.AsyncClient(base_url=url) as probe:
            r = await probe.get(
                f"/v1/incidents/{story.incident_id}", headers={"Authorization": f"Bearer {admin}"}
            )
            return r.status_code == 200

    await eventually(visible, timeout=20)
    callers = {Role.admin: admin, Role.responder: tokens.ann, Role.auditor: tokens.audrey}
    mismatches: list[str] = []
    for role, token in [*callers.items(), (None, None)]:
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            csrf = await http_sign_in(http, token) if token else ""
            for method, path, permission in routes:
                if method == "POST" and path == "/console/logout":
                    continue  # signs out: checked on its own below
                concrete, permitted = ROUTES[method, path]
                concrete = concrete.format(incident=story.incident_id)
                if path in PUBLIC:
                    expected = permitted
                elif role is None:
                    expected = 303 if method == "GET" else 401
                elif path in SIGNED_IN_ANYONE or permission in ROLE_PERMISSIONS[role]:
                    expected = permitted
                else:
                    expected = 403
                if method == "POST":
                    response = await http.post(
                        concrete, data={"csrf_token": csrf, "decision": "approve"}
                    )
                else:
                    response = await http.get(concrete)
                assert_headers(response)
                if response.status_code != expected:
                    mismatches.append(
                        f"{method} {path} as {role}: {response.status_code} != {expected}"
                    )
                if response.status_code == 303 and role is None and path not in PUBLIC:
                    assert response.headers["location"].startswith("/console/login?next=")
            if token:
                out = await http.post("/console/logout", data={"csrf_token": csrf})
                assert out.status_code == 303, out.text
                after = await http.get("/console/incidents")
                assert after.status_code == 303, f"{role} still signed in after signing out"
    engine.dispose()
    assert not mismatches, "\n".join(mismatches)


async def test_scope_sources_and_pages_with_data(
    api: tuple[str, Tokens], fb_settings: Settings
) -> None:
    """A responder sees only their tiers; a source token gets no session; data is not cached."""
    url, tokens = api
    story = Story(open_event_store(fb_settings), title="Prod only").open()
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        await http_sign_in(http, tokens.ann)

        async def listed() -> bool:
            return story.incident_id in (await http.get("/console/incidents")).text

        await eventually(listed, timeout=20)
        page = await http.get(f"/console/incidents/{story.incident_id}")
        assert page.headers["cache-control"] == "no-store"
        prod = await http.get("/console/incidents", params={"environment": "prod"})
        dev = await http.get("/console/incidents", params={"environment": "dev"})
        assert story.incident_id in prod.text and story.incident_id not in dev.text
        bad = await http.get("/console/incidents", params={"status": "on-fire"})
        assert bad.status_code == 422 and "status" in bad.text
        assert bad.headers["content-type"].startswith("text/html")
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        await http_sign_in(http, tokens.devon)
        assert story.incident_id not in (await http.get("/console/incidents")).text
        hidden = await http.get(f"/console/incidents/{story.incident_id}")
        assert hidden.status_code == 404 and "Prod only" not in hidden.text
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        form = await http.get("/console/login")
        csrf = form.text.split('name="csrf_token" value="')[1].split('"')[0]
        refused = await http.post(
            "/console/login", data={"token": tokens.source, "csrf_token": csrf}
        )
        assert refused.status_code == 403 and "no access to the console" in refused.text
        assert "firebreak_session" not in refused.headers.get("set-cookie", "")


async def test_csrf_origin_revocation_and_expiry(
    api: tuple[str, Tokens], fb_settings: Settings
) -> None:
    url, tokens = api
    engine = db.make_engine(fb_settings.db_url)
    logout = "/console/logout"
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        csrf = await http_sign_in(http, tokens.ben)
        cookie = http.cookies["firebreak_session"]
        with engine.connect() as conn:
            stored = conn.execute(sa.text("SELECT id_hash FROM console_sessions")).scalars().all()
        assert cookie not in stored and len(stored) == 1  # only a hash is kept

        missing = await http.post(logout, data={})
        wrong = await http.post(logout, data={"csrf_token": csrf[:-2] + "xx"})
        foreign = await http.post(
            logout, data={"csrf_token": csrf}, headers={"Origin": "https://evil.example"}
        )
        for refused in (missing, wrong, foreign):
            assert refused.status_code == 403, refused.text
            assert refused.headers["content-type"].startswith("text/html")
        assert "CSRF" in missing.text and "CSRF" in wrong.text and "origin" in foreign.text
        assert (await http.get("/console/incidents")).status_code == 200  # still signed in

        revoke_principal(engine, "ben")
        gone = await http.get("/console/incidents")
        assert gone.status_code == 303 and gone.headers["location"].startswith("/console/login")

    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        form = await http.get("/console/login")
        csrf = form.text.split('name="csrf_token" value="')[1].split('"')[0]
        login_cookie = http.cookies["firebreak_signin"]
        no_cookie = httpx.AsyncClient(base_url=url, timeout=30)
        forged = await no_cookie.post(
            "/console/login", data={"token": tokens.ann, "csrf_token": login_cookie}
        )
        await no_cookie.aclose()
        assert forged.status_code == 403  # the double-submit cookie is missing
        signed = await http.post("/console/login", data={"token": tokens.ann, "csrf_token": csrf})
        assert signed.status_code == 303
        set_cookie = signed.headers["set-cookie"].lower()
        assert (
            "httponly" in set_cookie and "samesite=strict" in set_cookie and "path=/" in set_cookie
        )
        assert f"max-age={fb_settings.console_session_seconds}" in set_cookie
        assert (await http.get("/console/metrics")).status_code == 200
        with engine.begin() as conn:
            conn.execute(
                sa.text("UPDATE console_sessions SET expires_at = :t"),
                {"t": datetime.now(UTC) - timedelta(seconds=1)},
            )
        expired = await http.get("/console/metrics")
        assert (
            expired.status_code == 303
            and "next=%2Fconsole%2Fmetrics" in expired.headers["location"]
        )
    engine.dispose()

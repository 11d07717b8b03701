"""The RBAC matrix: every route of the app x every role x in/out-of-scope environment, plus no
token and a revoked token, checked for the exact status.

Routes are enumerated from the app itself, so a new endpoint without a row in `CASES` fails
this test until someone states who may call it and what a permitted call answers. The web
console's routes are the exception: they authenticate by session cookie, not bearer token, so
tests/console/test_access.py walks them (every console route x role x no session) instead.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import sqlalchemy as sa
from temporalio.client import Client

from activities.factory import build_evidence_reader, build_providers
from orchestrator import db
from orchestrator.api.app import create_app
from orchestrator.api.auth import ROLE_PERMISSIONS, endpoints
from orchestrator.audit import open_event_store
from orchestrator.console.routing import console_endpoints
from orchestrator.domain import Environment, Role
from orchestrator.principals.models import Principal
from orchestrator.principals.service import create_principal, revoke_principal
from orchestrator.settings import Settings
from orchestrator.suppression.models import WindowRequest
from orchestrator.suppression.service import create_window
from tests.support.app import bearer, fixture_json, terminate_started
from tests.support.evidence import collected
from tests.support.incidents import running_worker
from tests.support.server import serving

_counter = itertools.count()
APPROVAL_STEP = "suspend-target-tool"  # the built-in prompt-injection playbook's first approval


@dataclass
class World:
    incident_id: str  # a prod incident waiting for approval of APPROVAL_STEP
    waiting: list[str]  # more such incidents, one per permitted decision
    engine: sa.Engine
    window_id: str = ""  # a prod suppression window
    evidence: str = ""  # the digest of an item a prod incident collected
    pairs: list[tuple[str, str]] = field(default_factory=list)  # (B, A), one per permitted merge
    into: str = ""  # the survivor of the merge being sent


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_counter)}"


def alert(world: World) -> dict[str, Any]:
    body = fixture_json("generic.json") | {"id": unique("rbac")}
    return {"json": body}


def otlp_finding(world: World) -> dict[str, Any]:
    """A prod finding (`deployment.environment.name: production`), new on every call."""
    body = fixture_json("otlp_logs.json")
    record = body["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]
    finding_id = {"stringValue": unique("rbac-finding")}
    record["attributes"].append(
        {"key": "gen_ai.guardrail.security.external_finding_id", "value": finding_id}
    )
    return {"json": body}


def new_principal(world: World) -> dict[str, Any]:
    return {"json": {"name": unique("made"), "role": "auditor", "environments": ["prod"]}}


WINDOW = {"match": {"labels.team": "rbac"}, "reason": "matrix", "duration": "1h"}


def window(world: World) -> str:
    """A prod suppression window made by an admin, for the routes that read or end one."""
    admin = Principal(
        id="matrix", name="matrix", role=Role.admin, environments=frozenset(Environment)
    )
    request = WindowRequest.model_validate(WINDOW | {"environments": ["prod"]})
    return create_window(world.engine, request, admin, datetime.now(UTC)).id


def new_window(world: World) -> dict[str, Any]:
    return {"json": WINDOW | {"environments": ["prod"]}}


def merge_path(world: World) -> str:
    merged, world.into = world.pairs.pop()
    return f"/v1/incidents/{merged}/merge"


def merge_body(world: World) -> dict[str, Any]:
    return {"json": {"into": world.into or world.incident_id, "reason": "matrix"}}


def victim(world: World) -> str:
    name = unique("victim")
    create_principal(world.engine, name, Role.auditor, [Environment.prod])
    return name


def first_event_proof(world: World) -> str:
    """An inclusion proof of the log's first event (there is one: the world's incidents)."""
    with world.engine.connect() as conn:
        event_id = conn.execute(
            sa.text("SELECT event_id FROM audit_events WHERE position = 1")
        ).scalar_one()
    return f"/v1/audit/proofs/inclusion?event_id={event_id}"


@dataclass(frozen=True)
class Case:
    """How to call a route, and what a permitted caller in / out of scope gets."""

    path: Callable[[World], str]
    request: Callable[[World], dict[str, Any]] = lambda _: {}
    in_scope: int = 200
    out_of_scope: int = 200
    permitted_path: Callable[[World], str] | None = None  # for calls that change state


def fixed(path: str) -> Callable[[World], str]:
    return lambda _: path


CASES: dict[tuple[str, str], Case] = {
    ("GET", "/healthz"): Case(fixed("/healthz")),
    ("GET", "/readyz"): Case(fixed("/readyz")),
    ("GET", "/metrics"): Case(fixed("/metrics")),
    ("POST", "/v1/alerts/{format}"): Case(
        fixed("/v1/alerts/generic"), alert, in_scope=202, out_of_scope=403
    ),
    ("POST", "/v1/alerts/otlp/v1/logs"): Case(
        fixed("/v1/alerts/otlp/v1/logs"), otlp_finding, out_of_scope=403
    ),
    ("POST", "/v1/alerts/otlp/v1/traces"): Case(
        fixed("/v1/alerts/otlp/v1/traces"), lambda _: {"json": {}}, out_of_scope=200
    ),
    ("GET", "/v1/incidents"): Case(fixed("/v1/incidents")),
    ("GET", "/v1/incidents/{incident_id}"): Case(
        lambda w: f"/v1/incidents/{w.incident_id}", out_of_scope=404
    ),
    ("GET", "/v1/incidents/{incident_id}/alerts"): Case(
        lambda w: f"/v1/incidents/{w.incident_id}/alerts", out_of_scope=404
    ),
    ("GET", "/v1/incidents/{incident_id}/report"): Case(
        lambda w: f"/v1/incidents/{w.incident_id}/report", out_of_scope=404
    ),
    ("GET", "/v1/incidents/{incident_id}/timeline"): Case(
        lambda w: f"/v1/incidents/{w.incident_id}/timeline", out_of_scope=404
    ),
    ("POST", "/v1/incidents/{incident_id}/steps/{step_id}/decisions"): Case(
        lambda w: f"/v1/incidents/{w.incident_id}/steps/{APPROVAL_STEP}/decisions",
        lambda _: {"json": {"decision": "approve", "reason": "matrix"}},
        out_of_scope=403,
        permitted_path=lambda w: f"/v1/incidents/{w.waiting.pop()}/steps/{APPROVAL_STEP}/decisions",
    ),
    ("GET", "/v1/incidents/{incident_id}/steps/{step_id}/decisions/{decision_id}"): Case(
        lambda w: f"/v1/incidents/{w.incident_id}/steps/{APPROVAL_STEP}/decisions/never-sent",
        in_scope=404,  # permitted, and Temporal holds no decision by that id
        out_of_scope=403,
    ),
    ("POST", "/v1/incidents/{incident_id}/merge"): Case(
        lambda w: f"/v1/incidents/{w.incident_id}/merge",
        merge_body,
        out_of_scope=403,
        permitted_path=merge_path,
    ),
    **{
        ("POST", f"/v1/incidents/{{incident_id}}/{action}"): Case(
            lambda w, action=action: f"/v1/incidents/{w.incident_id}/{action}",
            lambda _: {"json": {"reason": "matrix"}},
            out_of_scope=403,
            permitted_path=lambda w, action=action: f"/v1/incidents/{w.waiting.pop()}/{action}",
        )
        for action in ("acknowledge", "resolve")
    },
    ("POST", "/v1/incidents/{incident_id}/close"): Case(
        lambda w: f"/v1/incidents/{w.incident_id}/close",
        lambda _: {"json": {"reason": "matrix"}},
        in_scope=409,  # permitted, and the incident is not resolved
        out_of_scope=403,
    ),
    ("GET", "/v1/approvals"): Case(fixed("/v1/approvals")),
    ("GET", "/v1/audit/events"): Case(fixed("/v1/audit/events")),
    ("GET", "/v1/audit/export"): Case(fixed("/v1/audit/export")),
    ("GET", "/v1/audit/verify"): Case(fixed("/v1/audit/verify")),
    ("GET", "/v1/audit/checkpoints"): Case(fixed("/v1/audit/checkpoints")),
    ("GET", "/v1/audit/keys"): Case(fixed("/v1/audit/keys")),
    ("GET", "/v1/audit/proofs/inclusion"): Case(first_event_proof),
    ("GET", "/v1/audit/proofs/consistency"): Case(
        fixed("/v1/audit/proofs/consistency?old=1&new=1")
    ),
    ("GET", "/v1/evidence/{digest}"): Case(
        lambda w: f"/v1/evidence/{w.evidence}", out_of_scope=404
    ),
    ("GET", "/v1/principals"): Case(fixed("/v1/principals")),
    ("POST", "/v1/principals"): Case(fixed("/v1/principals"), new_principal, 201, 201),
    ("DELETE", "/v1/principals/{name_or_id}"): Case(lambda w: f"/v1/principals/{victim(w)}"),
    ("POST", "/v1/principals/{name_or_id}/webhook-secrets"): Case(
        lambda w: f"/v1/principals/{victim(w)}/webhook-secrets", in_scope=201, out_of_scope=201
    ),
    ("POST", "/v1/suppressions"): Case(
        fixed("/v1/suppressions"), new_window, in_scope=201, out_of_scope=403
    ),
    ("GET", "/v1/suppressions"): Case(fixed("/v1/suppressions")),
    ("GET", "/v1/suppressions/{window_id}"): Case(
        lambda w: f"/v1/suppressions/{w.window_id}", out_of_scope=404
    ),
    ("POST", "/v1/suppressions/{window_id}/end"): Case(
        lambda w: f"/v1/suppressions/{w.window_id}/end",
        out_of_scope=404,
        permitted_path=lambda w: f"/v1/suppressions/{window(w)}/end",
    ),
}


async def waiting_incident(http: httpx.AsyncClient, source: str, admin: str) -> str:
    """A prod incident that reached the projection and waits for approval of APPROVAL_STEP."""
    body = fixture_json("generic.json") | {"id": unique("opening"), "fingerprint": unique("fp")}
    response = await http.post("/v1/alerts/generic", json=body, headers=bearer(source))
    assert response.status_code == 202, response.text
    [incident_id] = response.json()["incidents"]
    for _ in range(400):  # the projection follows the log in the background
        found = await http.get(f"/v1/incidents/{incident_id}", headers=bearer(admin))
        if found.status_code == 200 and APPROVAL_STEP in json.dumps(found.json()["pending"]):
            return incident_id
        await asyncio.sleep(0.05)
    raise AssertionError(f"incident never waited for {APPROVAL_STEP}: {found.text[:500]}")


async def test_every_route_every_role_every_scope(
    fb_settings: Settings, dev_client: Client
) -> None:
    engine = db.make_engine(fb_settings.db_url)
    tokens: dict[tuple[Role, bool], str] = {}
    for role in Role:
        for in_scope in (True, False):
            env = Environment.prod if in_scope else Environment.dev
            tokens[role, in_scope] = create_principal(engine, f"{role}-{in_scope}", role, [env])[1]
    revoked = create_principal(engine, "gone", Role.admin, [])[1]
    revoke_principal(engine, "gone")

    store = open_event_store(fb_settings)
    app = create_app(
        fb_settings,
        temporal_client=dev_client,
        store=store,
        evidence=build_evidence_reader(fb_settings),
    )
    evidence_store = build_providers(fb_settings).evidence
    _, digest = await collected(store, evidence_store, Environment.prod, "matrix")
    console = set(console_endpoints(app))
    assert console, "the console's routes are no longer recognised as such"
    api_endpoints = [e for e in endpoints(app) if e not in console]
    missing = sorted(
        f"{e.method} {e.path}" for e in api_endpoints if (e.method, e.path) not in CASES
    )
    assert not missing, f"routes without a row in the RBAC matrix: {missing}"

    mismatches = []
    try:
        async with (
            running_worker(dev_client, fb_settings),
            serving(app) as url,
            httpx.AsyncClient(base_url=url, timeout=30) as http,
        ):
            admin = tokens[Role.admin, True]
            source = tokens[Role.source, True]
            # One for the read-only calls; one per permitted decision, acknowledge and resolve
            # (two permitted roles each); two pairs for the permitted merges.
            incidents = [await waiting_incident(http, source, admin) for _ in range(11)]
            pairs = [(incidents[7], incidents[8]), (incidents[9], incidents[10])]
            world = World(incidents[0], incidents[1:7], engine, evidence=digest, pairs=pairs)
            world.window_id = window(world)
            for endpoint in api_endpoints:
                case = CASES[endpoint.method, endpoint.path]
                callers: list[tuple[str, str | None, int]] = []
                public = endpoint.permission is None
                callers.append(("no token", None, case.in_scope if public else 401))
                callers.append(("revoked", revoked, case.in_scope if public else 401))
                for (role, in_scope), token in tokens.items():
                    allowed = public or endpoint.permission in ROLE_PERMISSIONS[role]
                    expected = (
                        (case.in_scope if in_scope else case.out_of_scope) if allowed else 403
                    )
                    if public:
                        expected = case.in_scope
                    callers.append((f"{role}/{'in' if in_scope else 'out'}", token, expected))
                for who, token, expected in callers:
                    permitted = expected == case.in_scope and case.permitted_path
                    path = case.permitted_path(world) if permitted else case.path(world)
                    response = await http.request(
                        endpoint.method,
                        path,
                        headers=bearer(token) if token else {},
                        **case.request(world),
                    )
                    if response.status_code != expected:
                        mismatches.append(
                            f"{endpoint.method} {endpoint.path} as {who}: "
                            f"{response.status_code} != {expected} {response.text[:120]}"
                        )
    finally:
        await terminate_started(dev_client, engine)
        engine.dispose()
    assert not mismatches, "\n".join(mismatches)

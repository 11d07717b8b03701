"""Principals over HTTP and in the database: tokens shown once, hashed, revoked at once."""

from __future__ import annotations

import hashlib

import httpx
import pytest
import sqlalchemy as sa

from orchestrator.audit import EventStore
from orchestrator.domain import Environment, Role
from orchestrator.errors import Conflict, InvalidInput, NotFound
from orchestrator.principals.service import create_principal, revoke_principal
from tests.support.app import bearer
from tests.support.principals import Tokens


def test_tokens_are_stored_only_as_hashes_and_names_reusable_after_revoke(
    store: EventStore,
) -> None:
    principal, token = create_principal(store.engine, "ops", Role.responder, [Environment.prod])
    with store.engine.connect() as conn:
        dumped = " ".join(
            str(v) for row in conn.execute(sa.text("SELECT * FROM principals")) for v in row
        )
    assert token not in dumped and hashlib.sha256(token.encode()).hexdigest() in dumped
    with pytest.raises(Conflict):
        create_principal(store.engine, "ops", Role.auditor, [])
    revoke_principal(store.engine, "ops")
    with pytest.raises(NotFound):
        revoke_principal(store.engine, principal.id)
    again, _ = create_principal(store.engine, "ops", Role.auditor, [])
    assert again.id != principal.id and again.environments == frozenset(Environment)
    with pytest.raises(InvalidInput):
        create_principal(store.engine, "../etc", Role.auditor, [])
    types = [e.type for e in store.read_stream("principals")]
    assert types == ["PrincipalCreated", "PrincipalRevoked", "PrincipalCreated"]
    assert token not in str([e.payload for e in store.read_stream("principals")])


async def test_admin_manages_principals_over_http(http: httpx.AsyncClient, tokens: Tokens) -> None:
    admin = bearer(tokens.admin)
    created = await http.post(
        "/v1/principals",
        json={"name": "late-shift", "role": "responder", "environments": ["prod"]},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    token = created.json()["token"]
    assert (await http.get("/v1/incidents", headers=bearer(token))).status_code == 200

    listed = (await http.get("/v1/principals", headers=admin)).json()
    assert "late-shift" in [p["name"] for p in listed]
    assert token not in str(listed)

    duplicate = await http.post(
        "/v1/principals", json={"name": "late-shift", "role": "auditor"}, headers=admin
    )
    assert duplicate.status_code == 409

    assert (await http.delete("/v1/principals/late-shift", headers=admin)).status_code == 200
    assert (await http.get("/v1/incidents", headers=bearer(token))).status_code == 401
    assert (await http.delete("/v1/principals/late-shift", headers=admin)).status_code == 404

    secret = await http.post("/v1/principals/detector/webhook-secrets", headers=admin)
    assert secret.status_code == 201 and secret.json()["secret"].startswith("whsec_")

"""`GET /v1/audit/proofs/*`: proofs an auditor checks offline, and problems for bad input."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest_asyncio

from orchestrator.api.app import create_app
from orchestrator.audit import EventStore, decode_hash, encode_hash, parse_proof
from orchestrator.settings import Settings
from tests.audit.test_merkle import naive_mth
from tests.audit.test_tree import fill_batches, leaves_of
from tests.support.app import bearer
from tests.support.principals import Tokens


@pytest_asyncio.fixture
async def http(api_settings: Settings, store: EventStore) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(api_settings, store=store))
    async with httpx.AsyncClient(transport=transport, base_url="http://firebreak.test") as client:
        yield client


async def test_auditor_gets_proofs_that_verify_offline(
    http: httpx.AsyncClient, store: EventStore, tokens: Tokens
) -> None:
    fill_batches(store, 12)
    leaves = leaves_of(store)
    event = next(e for e in store.read_all() if e.position == 7)
    auditor = bearer(tokens.audrey)
    r = await http.get(
        "/v1/audit/proofs/inclusion",
        params={"event_id": event.id, "tree_size": 10},
        headers=auditor,
    )
    assert r.status_code == 200, r.text
    proof = parse_proof(r.text)
    assert r.json()["root"] == encode_hash(naive_mth(leaves[:10]))
    assert (r.json()["position"], r.json()["tree_size"]) == (7, 10)
    proof.verify(naive_mth(leaves[:10]))

    r = await http.get(
        "/v1/audit/proofs/consistency", params={"old": 3, "new": 12}, headers=auditor
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert decode_hash(body["old_root"]) == naive_mth(leaves[:3])
    parse_proof(r.text).verify(naive_mth(leaves[:3]), naive_mth(leaves[:12]))


async def test_bad_input_is_a_problem_and_responders_are_refused(
    http: httpx.AsyncClient, store: EventStore, tokens: Tokens
) -> None:
    fill_batches(store, 4)
    auditor = bearer(tokens.audrey)
    event_id = store.read_stream("inc-0")[0].id
    head = store.head()[0]  # the principals' events come first
    cases = [
        ("/v1/audit/proofs/inclusion", {"event_id": "nope"}, 404, "no audit event has id 'nope'"),
        (
            "/v1/audit/proofs/inclusion",
            {"event_id": event_id, "tree_size": head + 1},
            422,
            f"tree size {head + 1} is beyond the log's head ({head} events)",
        ),
        (
            "/v1/audit/proofs/consistency",
            {"old": 3, "new": 2},
            422,
            "old size 3 is not between 0 and new size 2",
        ),
        (
            "/v1/audit/proofs/inclusion",
            {"event_id": event_id, "tree_size": 1},
            422,
            f"position {head - 3} is beyond tree size 1",
        ),
        (
            "/v1/audit/proofs/consistency",
            {"old": 0, "new": head + 5},
            422,
            f"tree size {head + 5} is beyond the log's head ({head} events)",
        ),
    ]
    for path, params, status, detail in cases:
        r = await http.get(path, params=params, headers=auditor)
        assert r.status_code == status, (path, params, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["detail"] == detail
    r = await http.get(
        "/v1/audit/proofs/consistency", params={"old": -1, "new": 2}, headers=auditor
    )
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    for token in (tokens.ann, tokens.source):
        r = await http.get(
            "/v1/audit/proofs/consistency", params={"old": 1, "new": 2}, headers=bearer(token)
        )
        assert r.status_code == 403
    r = await http.get("/v1/audit/proofs/consistency", params={"old": 1, "new": 2})
    assert r.status_code == 401

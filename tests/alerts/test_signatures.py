"""Standard Webhooks signatures: valid, invalid, stale, replayed, rotated."""

from __future__ import annotations

import time

import httpx
import pytest

from orchestrator.alerts.signatures import sign, verify
from orchestrator.audit import EventStore
from orchestrator.errors import Unauthorized
from orchestrator.principals.service import (
    add_webhook_secret,
    decode_secret,
    retire_webhook_secrets,
)
from tests.support.app import alerts_recorded, fixture_bytes, post_alert
from tests.support.principals import Tokens

BODY = fixture_bytes("generic.json")


def signed(
    secret: str, webhook_id: str, body: bytes = BODY, at: int | None = None
) -> dict[str, str]:
    timestamp = int(time.time()) if at is None else at
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(decode_secret(secret), webhook_id, timestamp, body),
    }


def new_secret(store: EventStore, source: str) -> str:
    """A webhook secret added for `source` in the store's database."""
    assert store.keyring is not None
    return add_webhook_secret(store.engine, store.keyring, source)


def test_verify_matches_the_standard_webhooks_reference_vector() -> None:
    # The example from the Standard Webhooks specification's reference implementations.
    secret = decode_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    body = b'{"test": 2432232314}'
    headers = {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }
    assert (
        verify([secret], headers, body, tolerance_seconds=300, now=1614265330)
        == headers["webhook-id"]
    )
    with pytest.raises(Unauthorized, match="does not match"):
        verify([secret], headers, body + b" ", tolerance_seconds=300, now=1614265330)
    with pytest.raises(Unauthorized, match="clock"):
        verify([secret], headers, body, tolerance_seconds=300, now=1614265330 + 301)


async def test_signed_source_refuses_unsigned_wrong_and_stale_deliveries(
    http: httpx.AsyncClient, tokens: Tokens, store: EventStore
) -> None:
    secret = new_secret(store, "detector")
    other = new_secret(store, "audrey")

    unsigned = await post_alert(http, "generic", BODY, tokens.source)
    assert unsigned.status_code == 401
    assert "webhook-signature" in unsigned.json()["detail"]
    wrong = await post_alert(http, "generic", BODY, tokens.source, **signed(other, "msg_a"))
    assert wrong.status_code == 401
    tampered = signed(secret, "msg_b", BODY.replace(b"critical", b"low"))
    assert (await post_alert(http, "generic", BODY, tokens.source, **tampered)).status_code == 401
    stale = signed(secret, "msg_c", at=int(time.time()) - 301)
    assert (await post_alert(http, "generic", BODY, tokens.source, **stale)).status_code == 401
    future = signed(secret, "msg_d", at=int(time.time()) + 301)
    assert (await post_alert(http, "generic", BODY, tokens.source, **future)).status_code == 401
    assert alerts_recorded(store) == 0
    good = await post_alert(http, "generic", BODY, tokens.source, **signed(secret, "msg_e"))
    assert good.status_code == 202, good.text


async def test_replayed_webhook_id_is_answered_once_or_refused(
    http: httpx.AsyncClient, tokens: Tokens, store: EventStore
) -> None:
    secret = new_secret(store, "detector")
    headers = signed(secret, "msg_replay")
    first = await post_alert(http, "generic", BODY, tokens.source, **headers)
    retry = await post_alert(http, "generic", BODY, tokens.source, **headers)
    assert first.status_code == retry.status_code == 202
    assert retry.json() == first.json()

    other_body = BODY.replace(b"guard-7f3a9c21", b"guard-other")
    reused = await post_alert(
        http, "generic", other_body, tokens.source, **signed(secret, "msg_replay", other_body)
    )
    assert reused.status_code == 409


async def test_rotation_keeps_two_secrets_active(
    http: httpx.AsyncClient, tokens: Tokens, store: EventStore
) -> None:
    old = new_secret(store, "detector")
    new = new_secret(store, "detector")

    def body(n: int) -> bytes:
        return BODY.replace(b"guard-7f3a9c21", f"rot-{n}".encode())

    for n, secret in enumerate((old, new)):
        response = await post_alert(
            http, "generic", body(n), tokens.source, **signed(secret, f"msg_r{n}", body(n))
        )
        assert response.status_code == 202, response.text

    newest = new_secret(store, "detector")
    retired = await post_alert(
        http, "generic", body(3), tokens.source, **signed(old, "msg_r3", body(3))
    )
    assert retired.status_code == 401
    for n, secret in ((4, new), (5, newest)):
        response = await post_alert(
            http, "generic", body(n), tokens.source, **signed(secret, f"msg_r{n}", body(n))
        )
        assert response.status_code == 202

    assert retire_webhook_secrets(store.engine, "detector", keep_newest=True) == 1
    finished = await post_alert(
        http, "generic", body(6), tokens.source, **signed(new, "msg_r6", body(6))
    )
    assert finished.status_code == 401

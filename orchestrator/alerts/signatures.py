"""Standard Webhooks signatures: `webhook-id`, `webhook-timestamp`, `webhook-signature`.

The signed content is `{id}.{timestamp}.{body}`, HMAC-SHA256 under the source's secret,
sent as space-separated `v1,<base64>` entries (several during a sender-side rotation). Any
active secret may match (two are active while a source rotates); comparisons are constant time;
a timestamp outside the tolerance is refused so a captured delivery cannot be replayed later.
Within the tolerance a repeated `webhook-id` is answered by the ingress from its delivery
record, never processed twice.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence

from orchestrator.errors import Unauthorized

MAX_ID_CHARS = 200


def sign(secret: bytes, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header value for one secret."""
    mac = hmac.new(secret, f"{webhook_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode()


def verify(
    secrets: Sequence[bytes],
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance_seconds: int,
    now: float,
) -> str:
    """Check the delivery's signature; return its webhook id, or raise 401 saying why."""
    webhook_id = headers.get("webhook-id", "")
    raw_timestamp = headers.get("webhook-timestamp", "")
    signatures = headers.get("webhook-signature", "")
    if not webhook_id or not raw_timestamp or not signatures:
        raise Unauthorized(
            "this source signs its deliveries: webhook-id, webhook-timestamp and"
            " webhook-signature headers are required"
        )
    if len(webhook_id) > MAX_ID_CHARS:
        raise Unauthorized("webhook-id is too long")
    try:
        timestamp = int(raw_timestamp)
    except ValueError:
        raise Unauthorized("webhook-timestamp is not an integer (seconds since epoch)") from None
    if abs(now - timestamp) > tolerance_seconds:
        raise Unauthorized(
            f"webhook-timestamp is more than {tolerance_seconds}s from the server's clock"
        )
    expected = [sign(secret, webhook_id, timestamp, body).encode() for secret in secrets]
    offered = [s.encode() for s in signatures.split() if s.startswith("v1,")]
    matched = False
    for candidate in offered:
        for good in expected:
            matched |= hmac.compare_digest(candidate, good)
    if not matched:
        raise Unauthorized("webhook-signature does not match any active secret of this source")
    return webhook_id

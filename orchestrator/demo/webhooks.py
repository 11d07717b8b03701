"""Signing deliveries the way a detector does: Standard Webhooks (standardwebhooks.com).

The demo signs with the API's own `sign` and the secret the API verifies against, so it
exercises the real ingest path rather than a shortcut.
"""

from __future__ import annotations

from orchestrator.alerts.signatures import sign
from orchestrator.principals.service import decode_secret


def signed_headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers for one delivery."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(decode_secret(secret), message_id, timestamp, body),
    }

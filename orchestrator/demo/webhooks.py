"""Signing deliveries the way a detector does: Standard Webhooks (standardwebhooks.com).

The signed content is ``{webhook-id}.{webhook-timestamp}.{body}``, HMAC-SHA256 under the
secret's key bytes, sent as ``webhook-signature: v1,<base64>``. The demo signs with the same
secret the API verifies, so it exercises the real ingest path rather than a shortcut.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from orchestrator.principals.service import decode_secret


def signed_headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers for one delivery."""
    content = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(decode_secret(secret), content, hashlib.sha256).digest()
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": "v1," + base64.b64encode(digest).decode(),
    }

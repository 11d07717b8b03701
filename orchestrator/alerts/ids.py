"""How an alert's stored ids are derived: from what its sender sends again on a retry.

Senders retry a delivery they think failed, so nothing the ingress stores may be named by a
value drawn at random. An alert's key is the SHA-256 of its source (the principal's name) and
the alert id the source gave it; its audit stream and the id of its `AlertReceived` event (a
UUIDv5 in a namespace of its own) derive from that key. A retried alert therefore lands on its
first record: the stream already has its event, which the append refuses and the ingress reads
back, and its receipt (keyed by the same key) answers the incident it went to. A delivery with
a `webhook-id` is keyed the same way, by source and webhook id, so a retried delivery finds the
answer given to the first one. Two sources may use the same alert id without meeting.

An alert a suppression window held is recorded (`AlertSuppressed`) on a stream and under an
event id of its own, derived from the same key: a retry while the window holds finds that
record, and a repeat after the window ended still records its `AlertReceived` first.
"""

from __future__ import annotations

import hashlib
import uuid

EVENT_NAMESPACE = uuid.UUID("5f0c1f0e-7d1a-4c55-9a53-3f1b2a9e0c11")
SUPPRESSED_NAMESPACE = uuid.UUID("0b7d3c52-95a4-4d0e-8f43-6a2f1c9e7d20")


def alert_key(source: str, alert_id: str) -> str:
    return hashlib.sha256(f"{source}\n{alert_id}".encode()).hexdigest()


def alert_stream(source: str, alert_id: str) -> str:
    return f"alert-{alert_key(source, alert_id)[:40]}"


def alert_event_id(source: str, alert_id: str) -> str:
    return str(uuid.uuid5(EVENT_NAMESPACE, alert_key(source, alert_id)))


def delivery_key(source: str, webhook_id: str) -> str:
    return hashlib.sha256(f"{source}\n{webhook_id}".encode()).hexdigest()


def suppressed_stream(source: str, alert_id: str) -> str:
    return f"suppressed-{alert_key(source, alert_id)[:40]}"


def suppressed_event_id(source: str, alert_id: str) -> str:
    return str(uuid.uuid5(SUPPRESSED_NAMESPACE, alert_key(source, alert_id)))

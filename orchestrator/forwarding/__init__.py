"""Streams the audit ledger to SIEMs: syslog over TLS, Splunk HEC, Elasticsearch bulk.

`firebreak audit forward` and `firebreak worker --forward` run `forward`; the API reads the
cursors (`Cursors.statuses`) for `/readyz` and `/metrics`. docs/observability.md, "Forwarding
to a SIEM", says how to wire each sink.
"""

from __future__ import annotations

from collections.abc import Sequence

from orchestrator.audit import EventStore
from orchestrator.db import make_engine
from orchestrator.forwarding.config import parse_sink, parse_sinks
from orchestrator.forwarding.cursors import Cursors
from orchestrator.forwarding.models import SinkConfig, SinkStatus
from orchestrator.forwarding.service import SinkForwarder, forward, forwarder_for, forwarders_for
from orchestrator.security.keyring import KeyRing
from orchestrator.settings import Settings

__all__ = [
    "Cursors",
    "SinkConfig",
    "SinkForwarder",
    "SinkStatus",
    "forward",
    "forwarder_for",
    "forwarders_for",
    "forwarding_store",
    "parse_sink",
    "parse_sinks",
]


def forwarding_store(settings: Settings, configs: Sequence[SinkConfig]) -> EventStore:
    """The event store a forwarder reads: with the key ring only when a sink receives sealed
    fields opened (`sealed=open`); otherwise it never holds a key (nor creates a key ring)."""
    keyring = None
    if any(config.sealed == "open" for config in configs):
        keyring = KeyRing.load(settings.keyring_path)
    return EventStore(make_engine(settings.db_url), keyring=keyring)

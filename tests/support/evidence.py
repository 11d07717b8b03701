"""Evidence as an incident records it: the item in an evidence store, and the ledger events the
incident workflow writes about it (`IncidentOpened` with the environment that scopes it,
`EvidenceCollected` with the digest; shapes as in docs/events.md)."""

from __future__ import annotations

import json
import uuid

from activities.providers.protocols import EvidenceStore
from orchestrator.audit import EventStore
from orchestrator.domain import Actor, Environment, EventType
from tests.support.events import new_event

WORKFLOW = Actor.system()


def evidence_document(incident_id: str, text: str) -> bytes:
    """What `evidence.collect` stores: canonical JSON, here with attacker-chosen text in it."""
    document = {"kind": "model_outputs", "incident_id": incident_id, "data": {"output": text}}
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


async def collected(
    store: EventStore, evidence: EvidenceStore, environment: Environment, text: str
) -> tuple[str, str]:
    """A new incident in `environment` that collected one item holding `text`: its id and the
    item's digest."""
    incident_id = f"incident-{uuid.uuid4().hex[:20]}.{uuid.uuid4()}"
    content = evidence_document(incident_id, text)
    digest = await evidence.put(content, idempotency_key=f"{incident_id}/collect")
    store.append(
        incident_id,
        [
            new_event(
                EventType.incident_opened.value,
                WORKFLOW,
                payload={"incident_id": incident_id, "environment": environment.value},
            ),
            new_event(
                EventType.evidence_collected.value,
                WORKFLOW,
                payload={"step_id": "collect", "digests": [digest]},
            ),
        ],
    )
    return incident_id, digest

"""Provider calls are timed and their failures counted by provider and operation, where the
worker makes them: inside the effect records, so an effect answered from the database is no
provider call."""

from __future__ import annotations

import pytest
from temporalio.exceptions import ApplicationError

from orchestrator.telemetry.instruments import process_registry
from tests.activities.conftest import Lab

INGEST = "key-ingest-pipeline"


def figures(action: str) -> tuple[float, float]:
    """(calls, errors) of the local provider's `action` so far in this process."""
    registry = process_registry()
    labels = {"provider": "local", "action": action}
    calls = registry.get_sample_value("firebreak_provider_call_seconds_count", labels) or 0.0
    errors = registry.get_sample_value("firebreak_provider_errors_total", labels) or 0.0
    return calls, errors


async def test_calls_are_timed_once_per_effect_and_failures_counted(lab: Lab) -> None:
    calls, errors = figures("keys.revoke")
    await lab.run("keys.revoke", {"key_id": INGEST}, key="wf/contain-1")
    assert figures("keys.revoke") == (calls + 1, errors)

    # A retry with the same idempotency key is answered by the record: the provider is not called.
    await lab.run("keys.revoke", {"key_id": INGEST}, key="wf/contain-1")
    assert figures("keys.revoke") == (calls + 1, errors)

    calls, errors = figures("keys.usage")
    with pytest.raises(ApplicationError):
        await lab.run("keys.usage", {"key_id": "no-such-key"})
    assert figures("keys.usage") == (calls + 1, errors + 1)


async def test_reads_go_straight_to_the_provider_and_are_measured(lab: Lab) -> None:
    calls, _ = figures("models.resolve")
    version = await lab.providers.models.resolve(lab.info.model, "production")
    assert version == lab.info.production_version
    assert figures("models.resolve")[0] == calls + 1

"""Temporal payloads are encrypted: the server's history never holds alert text in the clear."""

from __future__ import annotations

import dataclasses

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from activities.providers.local.lab import LabInfo
from orchestrator.errors import CryptoError
from orchestrator.security.keyring import KeyRing
from orchestrator.settings import Settings
from orchestrator.temporal.codec import EncryptionCodec
from orchestrator.temporal.incidents import submit_alert
from tests.support.incidents import final_state, make_alert, running_worker

MARKER = "IGNORE-PREVIOUS-INSTRUCTIONS-7f3a9c"


async def test_codec_round_trips_and_names_its_key() -> None:
    ring = KeyRing.generate()
    codec = EncryptionCodec(ring)
    plain = Payload(metadata={"encoding": b"json/plain"}, data=MARKER.encode())
    (sealed,) = await codec.encode([plain])
    assert MARKER.encode() not in sealed.SerializeToString()
    assert sealed.metadata["firebreak-key-id"] == ring.current.encode()
    assert await codec.decode([sealed]) == [plain]
    assert await EncryptionCodec(ring.rotated()).decode([sealed]) == [plain]
    with pytest.raises(CryptoError):
        await EncryptionCodec(KeyRing.generate()).decode([sealed])


async def raw_history(env: WorkflowEnvironment, workflow_id: str) -> bytes:
    """Every history event as the server stores it, read without any codec."""
    history = await env.client.get_workflow_handle(workflow_id).fetch_history()
    return b"".join(event.SerializeToString() for event in history.events)


async def test_history_on_the_server_holds_no_plaintext_of_the_alert(
    temporal_dev_env: WorkflowEnvironment, dev_client: Client, fb_settings: Settings, lab: LabInfo
) -> None:
    alert = make_alert(lab, "prompt_injection", title=f"injection: {MARKER}")
    async with running_worker(dev_client, fb_settings):
        await submit_alert(dev_client, alert, task_queue=fb_settings.task_queue)
        final = await final_state(dev_client, alert.workflow_id)
    assert MARKER in final.title, "the encrypted client reads the alert back"
    assert MARKER.encode() not in await raw_history(temporal_dev_env, alert.workflow_id)


async def test_without_the_codec_the_marker_would_be_visible(
    temporal_dev_env: WorkflowEnvironment, fb_settings: Settings, lab: LabInfo
) -> None:
    """The control for the test above: a plain client's history does show the marker."""
    plain = Client(
        **{
            **temporal_dev_env.client.config(),
            "data_converter": dataclasses.replace(pydantic_data_converter),
        }
    )
    alert = make_alert(lab, "prompt_injection", title=f"injection: {MARKER}")
    await submit_alert(plain, alert, task_queue=fb_settings.task_queue + "-nobody")
    assert MARKER.encode() in await raw_history(temporal_dev_env, alert.workflow_id)
    await temporal_dev_env.client.get_workflow_handle(alert.workflow_id).terminate()

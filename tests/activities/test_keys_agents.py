"""keys.* and agents.* activities on the local key store and agent control."""

from __future__ import annotations

import pytest
from temporalio.exceptions import ApplicationError

from activities.providers.local.agents import LocalAgentControl
from activities.providers.local.keys import LocalKeyStore
from tests.activities.conftest import Lab, tree_state

INGEST = "key-ingest-pipeline"


async def test_revoke_then_restore_through_the_inverse(lab: Lab) -> None:
    store = LocalKeyStore(lab.paths.keys)
    result = await lab.run("keys.revoke", {"key_id": INGEST})
    assert result.changed and "revoked" in result.summary
    assert not store.is_active(INGEST)
    assert store.is_active("key-support-bot")
    assert result.inverse_params == {"key_id": INGEST}

    restored = await lab.run("keys.restore", result.inverse_params)
    assert restored.changed
    assert store.is_active(INGEST)


async def test_revoke_twice_with_one_key_returns_the_first_result(lab: Lab) -> None:
    first = await lab.run("keys.revoke", {"key_id": INGEST}, key="wf/contain-1")
    before = tree_state(lab.paths.keys)
    again = await lab.run("keys.revoke", {"key_id": INGEST}, key="wf/contain-1")
    assert again == first
    assert tree_state(lab.paths.keys) == before


async def test_retry_after_a_crash_between_effect_and_return(lab: Lab) -> None:
    """The provider applied the effect but the activity never returned (worker killed)."""
    store = LocalKeyStore(lab.paths.keys)
    await store.revoke(INGEST, reason="crashed attempt", idempotency_key="wf/contain-1")
    before = tree_state(lab.paths.keys)
    retried = await lab.run("keys.revoke", {"key_id": INGEST}, key="wf/contain-1")
    assert retried.changed and retried.inverse_params == {"key_id": INGEST}
    assert tree_state(lab.paths.keys) == before


async def test_revoking_a_revoked_key_with_a_new_step_changes_nothing(lab: Lab) -> None:
    await lab.run("keys.revoke", {"key_id": INGEST}, key="wf/a")
    second = await lab.run("keys.revoke", {"key_id": INGEST}, key="wf/b")
    assert not second.changed and second.inverse_params is None
    assert "already revoked" in second.summary


async def test_dry_run_touches_nothing(lab: Lab) -> None:
    before = tree_state(lab.info.data_dir)
    result = await lab.run("keys.revoke", {"key_id": INGEST}, dry_run=True)
    assert not result.changed and result.summary.startswith("dry run: would revoke")
    assert tree_state(lab.info.data_dir) == before


async def test_usage_reports_the_access_log(lab: Lab) -> None:
    result = await lab.run("keys.usage", {"key_id": INGEST})
    assert int(result.outputs["requests"]) > 0
    assert result.outputs["last_used_at"].startswith("2026-01-15")
    assert result.outputs["detail.distinct_sources"] == "2"
    usage = await LocalKeyStore(lab.paths.keys).usage(INGEST)
    assert usage.recent and all(e["key_id"] == INGEST for e in usage.recent)


@pytest.mark.parametrize(
    ("params", "named"),
    [({}, "key_id"), ({"key_id": "  "}, "key_id"), ({"key_id": INGEST, "kid": "x"}, "kid")],
)
async def test_bad_params_fail_without_retry_naming_the_param(
    lab: Lab, params: dict[str, str], named: str
) -> None:
    with pytest.raises(ApplicationError) as caught:
        await lab.run("keys.revoke", params)
    assert caught.value.non_retryable and caught.value.type == "InvalidParams"
    assert repr(named) in str(caught.value)


async def test_unknown_key_is_not_found_and_not_retried(lab: Lab) -> None:
    with pytest.raises(ApplicationError) as caught:
        await lab.run("keys.revoke", {"key_id": "key-nope"})
    assert caught.value.non_retryable and caught.value.type == "ResourceNotFound"
    assert "key-nope" in str(caught.value)


async def test_suspend_and_restore_an_agent_tool(lab: Lab) -> None:
    control = LocalAgentControl(lab.paths.agents)
    suspended = await lab.run(
        "agents.suspend_tool", {"agent": "support-bot", "tool": "issue_refund"}
    )
    assert suspended.changed
    assert control.tools("support-bot")["issue_refund"] is False
    assert control.tools("support-bot")["search_kb"] is True
    assert suspended.inverse_params is not None
    again = await lab.run(
        "agents.suspend_tool", {"agent": "support-bot", "tool": "issue_refund"}, key="other"
    )
    assert not again.changed
    restored = await lab.run("agents.restore_tool", suspended.inverse_params)
    assert restored.changed
    assert all(control.tools("support-bot").values())


async def test_unknown_tool_is_not_found(lab: Lab) -> None:
    with pytest.raises(ApplicationError) as caught:
        await lab.run("agents.suspend_tool", {"agent": "support-bot", "tool": "rm_rf"})
    assert caught.value.type == "ResourceNotFound" and "rm_rf" in str(caught.value)

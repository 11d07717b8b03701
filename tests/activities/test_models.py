"""models.* activities on the filesystem registry."""

from __future__ import annotations

import json

import pytest
from temporalio.exceptions import ApplicationError

from activities.providers.local.models import QUARANTINE_TAG, LocalModelRegistry
from tests.activities.conftest import Lab, tree_state

MODEL = "fraud-detector"


async def test_snapshot_records_the_serving_version_once_per_key(lab: Lab) -> None:
    first = await lab.run("models.snapshot", {"model": MODEL}, key="wf/pin")
    assert first.outputs["version"] == "3" and not first.changed
    before = tree_state(lab.paths.models)
    assert await lab.run("models.snapshot", {"model": MODEL}, key="wf/pin") == first
    assert tree_state(lab.paths.models) == before


async def test_rollback_goes_to_the_last_known_good_snapshot_and_restore_undoes_it(
    lab: Lab,
) -> None:
    registry = LocalModelRegistry(lab.paths.models)
    await lab.run("models.snapshot", {"model": MODEL})
    result = await lab.run("models.rollback", {"model": MODEL}, incident="incident-a")
    assert result.changed
    assert result.outputs["from_version"] == "3" and result.outputs["to_version"] == "2"
    assert await registry.resolve(MODEL, "production") == "2"
    assert registry.tags(MODEL, "3") == {QUARANTINE_TAG: "incident-a"}

    assert result.inverse_params == {"model": MODEL, "alias": "production", "version": "3"}
    restored = await lab.run("models.restore", result.inverse_params)
    assert restored.changed
    assert await registry.resolve(MODEL, "production") == "3"
    assert registry.tags(MODEL, "3") == {}


async def test_rollback_skips_versions_whose_weights_were_tampered_with(lab: Lab) -> None:
    weights = lab.paths.models / MODEL / "versions" / "2" / "weights.json"
    weights.write_text(json.dumps({"feature": "amount", "threshold": 1.0}))
    result = await lab.run("models.rollback", {"model": MODEL})
    assert result.outputs["to_version"] == "1"


async def test_rollback_retry_does_not_lose_the_rollback_target(lab: Lab) -> None:
    first = await lab.run("models.rollback", {"model": MODEL}, key="wf/recover")
    again = await lab.run("models.rollback", {"model": MODEL}, key="wf/recover")
    assert again == first and again.inverse_params == {
        "model": MODEL,
        "alias": "production",
        "version": "3",
    }
    assert await LocalModelRegistry(lab.paths.models).resolve(MODEL, "production") == "2"


async def test_rollback_with_no_known_good_snapshot_is_not_retried(lab: Lab) -> None:
    state = lab.paths.models / MODEL / "state.json"
    doc = json.loads(state.read_text())
    doc["snapshots"] = []
    state.write_text(json.dumps(doc))
    with pytest.raises(ApplicationError) as caught:
        await lab.run("models.rollback", {"model": MODEL})
    assert caught.value.non_retryable and "known-good" in str(caught.value)


async def test_validate_passes_a_good_version_and_fails_the_poisoned_one(lab: Lab) -> None:
    good = await lab.run("models.validate", {"model": MODEL, "version": "2"})
    assert float(good.outputs["metric.accuracy"]) >= 0.9
    with pytest.raises(ApplicationError) as caught:
        await lab.run("models.validate", {"model": MODEL})
    assert caught.value.type == "ValidationFailed" and caught.value.non_retryable
    assert "version 3" in str(caught.value) and "below the minimum" in str(caught.value)


async def test_validate_detects_tampered_weights(lab: Lab) -> None:
    weights = lab.paths.models / MODEL / "versions" / "2" / "weights.json"
    weights.write_text(weights.read_text().replace("}", ', "x": 1}', 1))
    with pytest.raises(ApplicationError) as caught:
        await lab.run("models.validate", {"model": MODEL, "version": "2"})
    assert "sha256" in str(caught.value)


async def test_rollback_dry_run_touches_nothing(lab: Lab) -> None:
    before = tree_state(lab.info.data_dir)
    result = await lab.run("models.rollback", {"model": MODEL}, dry_run=True)
    assert not result.changed and "from version 3" in result.summary
    assert tree_state(lab.info.data_dir) == before


async def test_unknown_model_is_not_found(lab: Lab) -> None:
    for model in ("nope", "../gateway"):
        with pytest.raises(ApplicationError) as caught:
            await lab.run("models.rollback", {"model": model})
        assert caught.value.type == "ResourceNotFound"


def test_registration_converges_after_a_crash_before_the_record(lab: Lab) -> None:
    registry = LocalModelRegistry(lab.paths.models)
    weights = {"feature": "amount", "threshold": 900.0}
    kwargs = {"source": "t", "lineage": {}, "created_at": "2026-03-01", "registration_key": "r1"}
    first = registry.register(MODEL, weights, **kwargs)  # type: ignore[arg-type]
    state = lab.paths.models / MODEL / "state.json"
    doc = json.loads(state.read_text())
    doc["effects"] = {}
    state.write_text(json.dumps(doc))
    (lab.paths.models / MODEL / "versions" / ".5.staging").mkdir()
    assert registry.register(MODEL, weights, **kwargs) == first  # type: ignore[arg-type]
    assert registry.versions(MODEL) == ["1", "2", "3", "4"]


async def test_evaluate_reports_a_candidate_against_threshold_and_baseline(lab: Lab) -> None:
    """A shortfall is a finding (`passed=false`) with the reason, never an activity failure."""
    good = await lab.run(
        "models.evaluate",
        {"model": MODEL, "version": "2", "baseline_version": "1", "min_score": "0.9"},
    )
    assert good.outputs["passed"] == "true" and not good.changed
    assert float(good.outputs["score"]) >= float(good.outputs["baseline_score"])
    assert good.outputs["baseline_version"] == "1" and good.outputs["metric"] == "accuracy"

    poisoned = await lab.run(
        "models.evaluate", {"model": MODEL, "version": "3", "baseline_version": "2"}
    )
    assert poisoned.outputs["passed"] == "false"
    assert "below the minimum" in poisoned.outputs["detail"]
    assert f"below version 2's {float(good.outputs['score']):.4f}" in poisoned.outputs["detail"]

    strict = await lab.run("models.evaluate", {"model": MODEL, "version": "2", "min_score": "1"})
    assert strict.outputs["passed"] == "false"
    assert "below the threshold 1.0000" in strict.outputs["detail"]

    with pytest.raises(ApplicationError) as caught:
        await lab.run("models.evaluate", {"model": MODEL, "version": "2", "min_score": "high"})
    assert caught.value.type == "InvalidParams" and "min_score must be a number" in str(
        caught.value
    )


async def test_promote_serves_a_version_and_its_inverse_puts_the_old_one_back(lab: Lab) -> None:
    registry = LocalModelRegistry(lab.paths.models)
    promoted = await lab.run("models.promote", {"model": MODEL, "version": "2"}, key="wf/p")
    assert promoted.changed and await registry.resolve(MODEL, "production") == "2"
    assert promoted.outputs["from_version"] == "3" and promoted.outputs["to_version"] == "2"
    assert await lab.run("models.promote", {"model": MODEL, "version": "2"}, key="wf/p") == (
        promoted
    ), "a retried promotion is the same promotion"
    assert promoted.inverse_params == {"model": MODEL, "alias": "production", "version": "3"}
    await lab.run("models.restore", promoted.inverse_params)
    assert await registry.resolve(MODEL, "production") == "3"
    held = await lab.run("models.promote", {"model": MODEL, "version": "1"}, incident="other")
    assert not held.changed and held.outputs["guarded_by"] == "incident-a"
    assert await registry.resolve(MODEL, "production") == "3"


async def test_rollback_from_a_version_the_alias_does_not_serve_moves_and_tags_nothing(
    lab: Lab,
) -> None:
    """A drift alert about a canary (version 2 here) while production serves 3: rolling
    production back would quarantine the version behind it and serve an older one."""
    registry = LocalModelRegistry(lab.paths.models)
    state = lab.paths.models / MODEL / "state.json"
    before = json.loads(state.read_text())
    result = await lab.run(
        "models.rollback", {"model": MODEL, "from_version": "2"}, incident="incident-a"
    )
    assert not result.changed and result.inverse_params is None
    assert result.outputs["rolled_back"] == "false"
    assert (result.outputs["from_version"], result.outputs["to_version"]) == ("3", "3")
    assert "does not serve version 2" in result.summary
    assert await registry.resolve(MODEL, "production") == "3"
    assert registry.tags(MODEL, "3") == {} and registry.tags(MODEL, "2") == {}
    after = json.loads(state.read_text())
    assert {k: v for k, v in after.items() if k != "effects"} == {
        k: v for k, v in before.items() if k != "effects"
    }, "only the answer is recorded (for a retry): aliases, tags and snapshots as they were"


async def test_rollback_from_the_version_the_alias_serves_moves_it(lab: Lab) -> None:
    registry = LocalModelRegistry(lab.paths.models)
    result = await lab.run(
        "models.rollback", {"model": MODEL, "from_version": "3"}, incident="incident-a"
    )
    assert result.changed and result.outputs["rolled_back"] == "true"
    assert (result.outputs["from_version"], result.outputs["to_version"]) == ("3", "2")
    assert await registry.resolve(MODEL, "production") == "2"
    assert registry.tags(MODEL, "3") == {QUARANTINE_TAG: "incident-a"}
    again = await lab.run(
        "models.rollback", {"model": MODEL, "from_version": "3"}, incident="incident-a"
    )
    assert again == result, "a retry answers the move made, though production now serves 2"


async def test_rollback_dry_run_says_when_the_alias_serves_another_version(lab: Lab) -> None:
    before = tree_state(lab.info.data_dir)
    result = await lab.run("models.rollback", {"model": MODEL, "from_version": "7"}, dry_run=True)
    assert "leave fraud-detector@production on version 3" in result.summary
    assert result.outputs["rolled_back"] == "false"
    assert tree_state(lab.info.data_dir) == before

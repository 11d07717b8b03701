"""datasets.* activities on the directory store with SHA-256 manifests."""

from __future__ import annotations

import json

import pytest
from temporalio.exceptions import ApplicationError

from activities.providers.local.datasets import MARKER, LocalDatasetStore
from tests.activities.conftest import Lab, tree_state

DATASET = "transactions"


async def test_verify_finds_the_poisoned_version(lab: Lab) -> None:
    result = await lab.run("datasets.verify", {"dataset": DATASET})
    assert result.outputs["ok"] == "false"
    assert result.outputs["checked_versions"] == "v1,v2"
    assert result.outputs["failing_versions"] == "v2"
    assert "data.csv: sha256 differs" in result.outputs["mismatches.v2"]
    clean = await lab.run("datasets.verify", {"dataset": DATASET, "version": "v1"})
    assert clean.outputs["ok"] == "true" and not clean.changed


async def test_verify_reports_added_and_missing_files(lab: Lab) -> None:
    version_dir = lab.paths.datasets / DATASET / "v1"
    (version_dir / "extra.csv").write_text("amount,label\n1,1\n")
    report = await LocalDatasetStore(lab.paths.datasets).verify(DATASET, "v1")
    assert report.mismatches == ["extra.csv: not in manifest"]
    (version_dir / "data.csv").unlink()
    report = await LocalDatasetStore(lab.paths.datasets).verify(DATASET, "v1")
    assert "data.csv: missing" in report.mismatches


async def test_quarantine_moves_the_failing_version_and_release_brings_it_back(lab: Lab) -> None:
    store = LocalDatasetStore(lab.paths.datasets)
    assert await store.latest_clean(DATASET) == "v1"
    result = await lab.run("datasets.quarantine", {"dataset": DATASET}, incident="incident-a")
    assert result.changed and result.outputs["version"] == "v2"
    held = lab.paths.datasets / DATASET / "quarantine" / "v2"
    assert json.loads((held / MARKER).read_text())["incident_id"] == "incident-a"
    assert not (lab.paths.datasets / DATASET / "v2").exists()
    assert await store.versions(DATASET) == {"v1": False, "v2": True}

    assert result.inverse_params == {"dataset": DATASET, "version": "v2"}
    released = await lab.run("datasets.release", result.inverse_params)
    assert released.changed
    assert (lab.paths.datasets / DATASET / "v2" / "data.csv").is_file()
    assert not (lab.paths.datasets / DATASET / "v2" / MARKER).exists()
    assert await store.versions(DATASET) == {"v1": False, "v2": False}


async def test_quarantine_retry_returns_the_first_result(lab: Lab) -> None:
    first = await lab.run("datasets.quarantine", {"dataset": DATASET}, key="wf/eradicate")
    before = tree_state(lab.paths.datasets)
    assert (
        await lab.run(
            "datasets.quarantine", {"dataset": DATASET, "version": "v2"}, key="wf/eradicate"
        )
        == first
    )
    assert tree_state(lab.paths.datasets) == before


async def test_quarantine_converges_after_a_crash_before_the_record(lab: Lab) -> None:
    """The directory moved but the worker died before the effect was recorded."""
    store = LocalDatasetStore(lab.paths.datasets)
    await store.quarantine(DATASET, "v2", incident_id="incident-a", idempotency_key="wf/q")
    state = lab.paths.datasets / DATASET / "state.json"
    state.write_text(json.dumps({"effects": {}}))
    retried = await lab.run(
        "datasets.quarantine", {"dataset": DATASET, "version": "v2"}, key="wf/q"
    )
    assert retried.changed and retried.inverse_params == {"dataset": DATASET, "version": "v2"}
    other = await lab.run(
        "datasets.quarantine", {"dataset": DATASET, "version": "v2"}, key="wf/other"
    )
    assert not other.changed


async def test_quarantine_converges_after_a_crash_between_marker_and_move(lab: Lab) -> None:
    live = lab.paths.datasets / DATASET / "v2"
    (live / MARKER).write_text(json.dumps({"incident_id": "incident-a"}))
    result = await lab.run("datasets.quarantine", {"dataset": DATASET, "version": "v2"})
    assert result.changed
    assert (lab.paths.datasets / DATASET / "quarantine" / "v2" / MARKER).is_file()


async def test_release_without_version_picks_the_quarantined_one(lab: Lab) -> None:
    await lab.run("datasets.quarantine", {"dataset": DATASET})
    released = await lab.run("datasets.release", {"dataset": DATASET})
    assert released.outputs["version"] == "v2" and released.changed


async def test_quarantine_without_a_failing_version_asks_for_one(lab: Lab) -> None:
    await lab.run("datasets.quarantine", {"dataset": DATASET})
    with pytest.raises(ApplicationError) as caught:
        await lab.run(
            "datasets.quarantine", {"dataset": DATASET}, incident="incident-a", key="again"
        )
    assert caught.value.type == "ResourceNotFound" and "'version'" in str(caught.value)


async def test_dry_run_touches_nothing(lab: Lab) -> None:
    before = tree_state(lab.info.data_dir)
    result = await lab.run("datasets.quarantine", {"dataset": DATASET}, dry_run=True)
    assert result.summary == "dry run: would quarantine dataset transactions version v2"
    assert tree_state(lab.info.data_dir) == before


async def test_path_traversal_is_not_found(lab: Lab) -> None:
    with pytest.raises(ApplicationError) as caught:
        await lab.run("datasets.quarantine", {"dataset": DATASET, "version": "../../gateway"})
    assert caught.value.type == "ResourceNotFound"

"""The DatasetStore contract: manifests catch a changed file, quarantine takes a version out of
the live set until release brings it back intact, and the version listing says which is which.

A concrete class builds the provider in an autouse fixture (`self.provider`) and says how to add
a dataset (every version with its manifest) to the system behind it, how to change a file
behind the manifest's back, where the system now holds a version, and how to take a snapshot
of a dataset's state there.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from functools import partial
from typing import Literal

import pytest

from activities.errors import ResourceNotFound
from activities.providers.protocols import DatasetStore, QuarantineState
from tests.activities.providers.contract_support import (
    idempotency_tests,
    repeated,
)

FILES = {"data.csv": b"amount,label\n12.50,0\n990.00,1\n", "labels/classes.txt": b"ok\nfraud\n"}
VERSIONS = ("v1", "v2", "v10")
INCIDENT = "inc-9"
Where = Literal["live", "quarantined"]


class DatasetStoreContract(ABC):
    provider: DatasetStore

    @abstractmethod
    async def make_dataset(self, versions: dict[str, dict[str, bytes]]) -> str:
        """A new dataset holding `versions` (created in that order, each with its manifest);
        its name."""

    @abstractmethod
    async def write_file(
        self, dataset: str, version: str, name: str, content: bytes | None
    ) -> None:
        """Change a live file after its manifest was written (None deletes it)."""

    @abstractmethod
    async def where(self, dataset: str, version: str) -> Where | None:
        """Where the system holds the version: where readers list data, or set apart."""

    @abstractmethod
    async def observe(self, dataset: str) -> object:
        """A comparable snapshot of the dataset in the system: objects, contents, tags."""

    async def dataset(self) -> str:
        return await self.make_dataset({version: FILES for version in VERSIONS})

    async def quarantine(self, dataset: str, version: str, key: str = "wf/q") -> QuarantineState:
        return await self.provider.quarantine(
            dataset, version, incident_id=INCIDENT, idempotency_key=key
        )

    async def release(self, dataset: str, version: str, key: str = "wf/r") -> QuarantineState:
        return await self.provider.release(dataset, version, idempotency_key=key)

    @staticmethod
    def state(dataset: str, quarantined: bool, changed: bool) -> QuarantineState:
        return QuarantineState(
            dataset=dataset, version="v2", quarantined=quarantined, changed=changed
        )

    async def test_verify_passes_a_version_that_matches_its_manifest(self) -> None:
        dataset = await self.dataset()
        report = await self.provider.verify(dataset, "v2")
        assert (report.dataset, report.version, report.ok, report.mismatches) == (
            dataset,
            "v2",
            True,
            [],
        )
        assert report.checked == len(FILES)
        assert report.manifest == {n: hashlib.sha256(c).hexdigest() for n, c in FILES.items()}

    @pytest.mark.parametrize(
        ("name", "content"),
        [("data.csv", b"amount,label\n990.00,0\n"), ("labels/classes.txt", None), ("x.bin", b"")],
        ids=["changed", "missing", "added"],
    )
    async def test_verify_names_each_file_that_differs_from_the_manifest(
        self, name: str, content: bytes | None
    ) -> None:
        dataset = await self.dataset()
        await self.write_file(dataset, "v2", name, content)
        report = await self.provider.verify(dataset, "v2")
        assert not report.ok
        assert [m for m in report.mismatches if m.startswith(f"{name}:")], report.mismatches
        assert (await self.provider.verify(dataset, "v1")).ok

    async def test_versions_lists_every_version_oldest_first(self) -> None:
        dataset = await self.dataset()
        listed = await self.provider.versions(dataset)
        assert list(listed.items()) == [(version, False) for version in VERSIONS]

    async def test_quarantine_sets_the_version_apart(self) -> None:
        dataset = await self.dataset()
        assert await self.quarantine(dataset, "v2") == self.state(dataset, True, True)
        assert await self.where(dataset, "v2") == "quarantined"
        assert await self.provider.versions(dataset) == {"v1": False, "v2": True, "v10": False}

    async def repeated_quarantine(self) -> tuple[QuarantineState, QuarantineState, bool]:
        """Quarantine v2 twice under one key: both answers, and whether the repeat left the
        store as the first call did."""
        dataset = await self.dataset()
        effect = partial(self.quarantine, dataset, "v2")
        answers = await repeated(effect, partial(self.observe, dataset))
        assert await self.where(dataset, "v2") == "quarantined"
        return answers

    (
        test_a_repeated_quarantine_applies_nothing,
        test_a_repeated_quarantine_returns_the_first_answer,
    ) = idempotency_tests(repeated_quarantine)

    async def test_quarantining_a_quarantined_version_in_another_step_changes_nothing(
        self,
    ) -> None:
        dataset = await self.dataset()
        await self.quarantine(dataset, "v2", "wf/first")
        before = await self.observe(dataset)
        assert await self.quarantine(dataset, "v2", "wf/second") == self.state(dataset, True, False)
        assert await self.observe(dataset) == before

    async def test_release_brings_the_version_back_intact(self) -> None:
        dataset = await self.dataset()
        await self.quarantine(dataset, "v2")
        assert await self.release(dataset, "v2") == self.state(dataset, False, True)
        assert await self.where(dataset, "v2") == "live"
        assert await self.provider.versions(dataset) == {"v1": False, "v2": False, "v10": False}
        report = await self.provider.verify(dataset, "v2")
        assert report.ok and report.manifest.keys() == FILES.keys()

    async def repeated_release(self) -> tuple[QuarantineState, QuarantineState, bool]:
        """Quarantine v2, then release it twice under one key."""
        dataset = await self.dataset()
        await self.quarantine(dataset, "v2")
        effect = partial(self.release, dataset, "v2")
        answers = await repeated(effect, partial(self.observe, dataset))
        assert await self.where(dataset, "v2") == "live"
        return answers

    (
        test_a_repeated_release_applies_nothing,
        test_a_repeated_release_returns_the_first_answer,
    ) = idempotency_tests(repeated_release)

    async def test_releasing_a_live_version_changes_nothing(self) -> None:
        dataset = await self.dataset()
        before = await self.observe(dataset)
        assert await self.release(dataset, "v2") == self.state(dataset, False, False)
        assert await self.observe(dataset) == before

    async def test_latest_clean_is_the_newest_version_not_quarantined(self) -> None:
        dataset = await self.dataset()
        assert await self.provider.latest_clean(dataset) == "v10"
        await self.quarantine(dataset, "v10")
        assert await self.provider.latest_clean(dataset) == "v2"

    async def test_latest_clean_with_every_version_quarantined_is_not_found(self) -> None:
        dataset = await self.make_dataset({"v1": FILES})
        await self.quarantine(dataset, "v1")
        with pytest.raises(ResourceNotFound):
            await self.provider.latest_clean(dataset)

    @pytest.mark.parametrize("version", ["v99", "../v1", "quarantine"])
    async def test_an_unknown_version_is_not_found_and_changes_nothing(self, version: str) -> None:
        dataset = await self.dataset()
        before = await self.observe(dataset)
        with pytest.raises(ResourceNotFound):
            await self.provider.verify(dataset, version)
        with pytest.raises(ResourceNotFound):
            await self.quarantine(dataset, version)
        with pytest.raises(ResourceNotFound):
            await self.release(dataset, version)
        assert await self.observe(dataset) == before

    async def test_an_unknown_dataset_is_not_found(self) -> None:
        await self.dataset()
        with pytest.raises(ResourceNotFound):
            await self.provider.verify("no-such-dataset", "v1")
        with pytest.raises(ResourceNotFound):
            await self.quarantine("no-such-dataset", "v1")
        with pytest.raises(ResourceNotFound):
            await self.release("no-such-dataset", "v1")
        with pytest.raises(ResourceNotFound):
            await self.provider.latest_clean("no-such-dataset")

    async def test_listing_an_unknown_dataset_is_not_found(self) -> None:
        await self.dataset()
        with pytest.raises(ResourceNotFound):
            await self.provider.versions("no-such-dataset")

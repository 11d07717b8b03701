"""Dataset activities: verify manifests, quarantine a poisoned version, release it."""

from __future__ import annotations

from dataclasses import dataclass

from activities.base import action, dry_run, guarded, optional, outcome, undo_guarded
from activities.errors import ResourceNotFound
from activities.guard import ResourceGuard
from activities.providers.protocols import DatasetStore
from orchestrator.domain import ActionInput, ActionResult

MAX_LISTED = 5


@dataclass
class DatasetActivities:
    datasets: DatasetStore
    guard: ResourceGuard

    async def _failing_version(self, dataset: str) -> str:
        """The newest live version whose files no longer match its manifest."""
        for version, quarantined in reversed((await self.datasets.versions(dataset)).items()):
            if not quarantined and not (await self.datasets.verify(dataset, version)).ok:
                return version
        raise ResourceNotFound(
            f"no live version of dataset {dataset!r} fails verification; name one with 'version'"
        )

    @action("datasets.verify")
    async def verify(self, input: ActionInput) -> ActionResult:
        """Verify one version, or every version when none is named. A mismatch is a finding,
        reported in `outputs` (`ok=false`), not an activity failure."""
        dataset = input.params["dataset"]
        version = optional(input, "version")
        versions = [version] if version else list(await self.datasets.versions(dataset))
        reports = [await self.datasets.verify(dataset, v) for v in versions]
        failing = [r for r in reports if not r.ok]
        outputs = {
            "dataset": dataset,
            "ok": str(not failing).lower(),
            "checked_versions": ",".join(versions),
            "failing_versions": ",".join(r.version for r in failing),
        }
        for report in failing:
            outputs[f"mismatches.{report.version}"] = "; ".join(report.mismatches[:MAX_LISTED])
        summary = (
            f"dataset {dataset}: {len(reports)} version(s) match their manifests"
            if not failing
            else f"dataset {dataset}: manifest mismatch in version(s) "
            + ", ".join(r.version for r in failing)
        )
        return ActionResult(action=input.action, changed=False, summary=summary, outputs=outputs)

    @action("datasets.quarantine")
    async def quarantine(self, input: ActionInput) -> ActionResult:
        """Without `version`, quarantines the newest live version that fails verification."""
        dataset = input.params["dataset"]

        async def effect() -> ActionResult:
            version = optional(input, "version") or await self._failing_version(dataset)
            if input.dry_run:
                return dry_run(
                    input, f"quarantine dataset {dataset} version {version}", version=version
                )
            state = await self.datasets.quarantine(
                dataset,
                version,
                incident_id=input.incident_id,
                idempotency_key=input.idempotency_key,
            )
            return outcome(
                input,
                state.changed,
                f"dataset {dataset} version {version} quarantined",
                f"dataset {dataset} version {version} was already quarantined",
                {"dataset": dataset, "version": version},
                {"dataset": dataset, "version": version},
            )

        return await guarded(self.guard, f"dataset:{dataset}", input, effect)

    @action("datasets.release")
    async def release(self, input: ActionInput) -> ActionResult:
        """Without `version`, releases the newest quarantined version."""
        dataset = input.params["dataset"]
        version = optional(input, "version")
        if version is None:
            held = [v for v, q in (await self.datasets.versions(dataset)).items() if q]
            if not held:
                raise ResourceNotFound(f"dataset {dataset!r} has no quarantined version")
            version = held[-1]

        async def effect() -> ActionResult:
            if input.dry_run:
                return dry_run(
                    input, f"release dataset {dataset} version {version}", version=version
                )
            state = await self.datasets.release(
                dataset, version, idempotency_key=input.idempotency_key
            )
            return outcome(
                input,
                state.changed,
                f"dataset {dataset} version {version} released from quarantine",
                f"dataset {dataset} version {version} was not quarantined",
                {"dataset": dataset, "version": version},
            )

        return await undo_guarded(self.guard, f"dataset:{dataset}", input, effect)

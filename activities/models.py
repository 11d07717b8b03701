"""Model activities: snapshot the serving version, roll back, restore, validate."""

from __future__ import annotations

from dataclasses import dataclass

from activities.base import action, dry_run, guarded, optional, outcome, undo_guarded
from activities.errors import ValidationFailed
from activities.guard import ResourceGuard
from activities.providers.protocols import ModelRegistry
from orchestrator.domain import ActionInput, ActionResult

DEFAULT_ALIAS = "production"


@dataclass
class ModelActivities:
    models: ModelRegistry
    guard: ResourceGuard

    @action("models.snapshot")
    async def snapshot(self, input: ActionInput) -> ActionResult:
        model, alias = input.params["model"], optional(input, "alias") or DEFAULT_ALIAS
        if input.dry_run:
            version = await self.models.resolve(model, alias)
            return dry_run(
                input,
                f"record {model}@{alias} (version {version}) as known-good",
                version=version,
                alias=alias,
            )
        snap = await self.models.snapshot(model, alias, idempotency_key=input.idempotency_key)
        return ActionResult(
            action=input.action,
            changed=False,
            summary=f"recorded {model}@{alias} -> version {snap.version} as a rollback target",
            outputs={"model": model, "alias": alias, "version": snap.version},
        )

    @action("models.rollback")
    async def rollback(self, input: ActionInput) -> ActionResult:
        model, alias = input.params["model"], optional(input, "alias") or DEFAULT_ALIAS
        to_version = optional(input, "to_version")

        async def effect() -> ActionResult:
            if input.dry_run:
                current = await self.models.resolve(model, alias)
                target = to_version or "the last known-good snapshot"
                return dry_run(
                    input,
                    f"move {model}@{alias} from version {current} to {target}",
                    from_version=current,
                )
            move = await self.models.rollback(
                model,
                alias,
                to_version=to_version,
                incident_id=input.incident_id,
                idempotency_key=input.idempotency_key,
            )
            return outcome(
                input,
                move.changed,
                f"{model}@{alias} rolled back from version {move.from_version} to "
                f"{move.to_version}",
                f"{model}@{alias} already at version {move.to_version}",
                {
                    "model": model,
                    "alias": alias,
                    "from_version": move.from_version,
                    "to_version": move.to_version,
                },
                {"model": model, "alias": alias, "version": move.from_version},
            )

        return await guarded(self.guard, f"model:{model}", input, effect)

    @action("models.restore")
    async def restore(self, input: ActionInput) -> ActionResult:
        model, version = input.params["model"], input.params["version"]
        alias = optional(input, "alias") or DEFAULT_ALIAS

        async def effect() -> ActionResult:
            if input.dry_run:
                return dry_run(
                    input, f"point {model}@{alias} at version {version}", version=version
                )
            move = await self.models.restore(
                model, alias, version, idempotency_key=input.idempotency_key
            )
            return outcome(
                input,
                move.changed,
                f"{model}@{alias} restored to version {version}",
                f"{model}@{alias} already at version {version}",
                {
                    "model": model,
                    "alias": alias,
                    "from_version": move.from_version,
                    "to_version": move.to_version,
                },
            )

        return await undo_guarded(self.guard, f"model:{model}", input, effect)

    @action("models.validate")
    async def validate(self, input: ActionInput) -> ActionResult:
        """Fails non-retryably (`ValidationFailed`) when the model does not pass."""
        model = input.params["model"]
        version = optional(input, "version") or await self.models.resolve(
            model, optional(input, "alias") or DEFAULT_ALIAS
        )
        report = await self.models.validate(model, version)
        if not report.passed:
            raise ValidationFailed(f"{model} version {version} failed validation: {report.detail}")
        return ActionResult(
            action=input.action,
            changed=False,
            summary=f"{model} version {version} passed validation: {report.detail}",
            outputs={"model": model, "version": version}
            | {f"metric.{k}": f"{v:g}" for k, v in report.metrics.items()},
        )

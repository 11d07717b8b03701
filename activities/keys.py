"""Key activities: revoke and restore API keys, report their usage."""

from __future__ import annotations

from dataclasses import dataclass

from activities.base import action, dry_run, guarded, outcome, reason, undo_guarded
from activities.guard import ResourceGuard
from activities.providers.protocols import KeyProvider
from orchestrator.domain import ActionInput, ActionResult


@dataclass
class KeyActivities:
    keys: KeyProvider
    guard: ResourceGuard

    @action("keys.revoke")
    async def revoke(self, input: ActionInput) -> ActionResult:
        key_id = input.params["key_id"]

        async def effect() -> ActionResult:
            if input.dry_run:
                return dry_run(input, f"revoke API key {key_id}", key_id=key_id)
            state = await self.keys.revoke(
                key_id, reason=reason(input), idempotency_key=input.idempotency_key
            )
            return outcome(
                input,
                state.changed,
                f"API key {key_id} revoked",
                f"API key {key_id} was already revoked",
                {"key_id": key_id, "active": str(state.active).lower()},
                {"key_id": key_id},
            )

        return await guarded(self.guard, f"key:{key_id}", input, effect)

    @action("keys.restore")
    async def restore(self, input: ActionInput) -> ActionResult:
        key_id = input.params["key_id"]

        async def effect() -> ActionResult:
            if input.dry_run:
                return dry_run(input, f"restore API key {key_id}", key_id=key_id)
            state = await self.keys.restore(key_id, idempotency_key=input.idempotency_key)
            return outcome(
                input,
                state.changed,
                f"API key {key_id} restored",
                f"API key {key_id} was already active",
                {"key_id": key_id, "active": str(state.active).lower()},
            )

        return await undo_guarded(self.guard, f"key:{key_id}", input, effect)

    @action("keys.usage")
    async def usage(self, input: ActionInput) -> ActionResult:
        key_id = input.params["key_id"]
        usage = await self.keys.usage(key_id)
        last = usage.last_used_at.isoformat() if usage.last_used_at else ""
        return ActionResult(
            action=input.action,
            changed=False,
            summary=f"API key {key_id}: {usage.requests} requests, last used {last or 'never'}",
            outputs={"key_id": key_id, "requests": str(usage.requests), "last_used_at": last}
            | {f"detail.{k}": v for k, v in usage.detail.items()},
        )

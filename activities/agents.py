"""Agent activities: suspend and restore one tool of an agent."""

from __future__ import annotations

from dataclasses import dataclass

from activities.base import action, dry_run, guarded, outcome, reason, undo_guarded
from activities.guard import ResourceGuard
from activities.providers.protocols import AgentControl
from orchestrator.domain import ActionInput, ActionResult


@dataclass
class AgentActivities:
    agents: AgentControl
    guard: ResourceGuard

    @action("agents.suspend_tool")
    async def suspend_tool(self, input: ActionInput) -> ActionResult:
        agent, tool = input.params["agent"], input.params["tool"]

        async def effect() -> ActionResult:
            if input.dry_run:
                return dry_run(input, f"suspend tool {tool} of agent {agent}")
            state = await self.agents.suspend_tool(
                agent, tool, reason=reason(input), idempotency_key=input.idempotency_key
            )
            return outcome(
                input,
                state.changed,
                f"tool {tool} of agent {agent} suspended",
                f"tool {tool} of agent {agent} was already suspended",
                {"agent": agent, "tool": tool, "enabled": "false"},
                {"agent": agent, "tool": tool},
            )

        return await guarded(self.guard, f"agent:{agent}/{tool}", input, effect)

    @action("agents.restore_tool")
    async def restore_tool(self, input: ActionInput) -> ActionResult:
        agent, tool = input.params["agent"], input.params["tool"]

        async def effect() -> ActionResult:
            if input.dry_run:
                return dry_run(input, f"restore tool {tool} of agent {agent}")
            state = await self.agents.restore_tool(
                agent, tool, idempotency_key=input.idempotency_key
            )
            return outcome(
                input,
                state.changed,
                f"tool {tool} of agent {agent} restored",
                f"tool {tool} of agent {agent} was already enabled",
                {"agent": agent, "tool": tool, "enabled": "true"},
            )

        return await undo_guarded(self.guard, f"agent:{agent}/{tool}", input, effect)

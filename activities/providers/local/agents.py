"""Agent tool control: which tools each agent may call, as the agent platform would hold it.

`agents.json` maps agent -> tool -> {enabled, reason}. Suspending a tool is the containment for
excessive agency or a compromised tool; restoring it is the inverse.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from activities.errors import ResourceNotFound
from activities.providers.local.state import Document, JsonState
from activities.providers.protocols import ToolState


class LocalAgentControl:
    def __init__(self, root: Path) -> None:
        self.state = JsonState(root / "agents.json", lambda: {"agents": {}})

    @staticmethod
    def _tool(doc: Document, agent: str, tool: str) -> dict[str, Any]:
        try:
            tools: dict[str, dict[str, Any]] = doc["agents"][agent]["tools"]
        except KeyError:
            raise ResourceNotFound(f"no agent {agent!r}") from None
        if tool not in tools:
            raise ResourceNotFound(f"agent {agent!r} has no tool {tool!r}")
        return tools[tool]

    def _set(self, agent: str, tool: str, enabled: bool, reason: str, key: str) -> ToolState:
        def apply(doc: Document) -> ToolState:
            entry = self._tool(doc, agent, tool)
            if entry["enabled"] == enabled:
                return ToolState(agent=agent, tool=tool, enabled=enabled, changed=False)
            entry["enabled"] = enabled
            entry["reason"] = None if enabled else reason
            return ToolState(agent=agent, tool=tool, enabled=enabled, changed=True)

        operation = "restore_tool" if enabled else "suspend_tool"
        return self.state.effect_once(f"{operation}:{agent}/{tool}", key, ToolState, apply)

    async def suspend_tool(
        self, agent: str, tool: str, *, reason: str, idempotency_key: str
    ) -> ToolState:
        return await asyncio.to_thread(self._set, agent, tool, False, reason, idempotency_key)

    async def restore_tool(self, agent: str, tool: str, *, idempotency_key: str) -> ToolState:
        return await asyncio.to_thread(self._set, agent, tool, True, "", idempotency_key)

    def tools(self, agent: str) -> dict[str, bool]:
        agents = self.state.read()["agents"]
        if agent not in agents:
            raise ResourceNotFound(f"no agent {agent!r}")
        return {name: bool(t["enabled"]) for name, t in agents[agent]["tools"].items()}

    def add_agent(self, agent: str, tools: list[str]) -> bool:
        """Register an agent with every tool enabled; returns False if it exists."""
        with self.state.update() as doc:
            if agent in doc["agents"]:
                return False
            doc["agents"][agent] = {
                "tools": {tool: {"enabled": True, "reason": None} for tool in tools}
            }
            return True

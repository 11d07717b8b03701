"""The playbook activities: pick and render the playbook when an incident opens, or the one a
responder assigned to an incident in triage.

Resolving on the worker (not in the API) keeps `submit_alert` independent of playbook files and
makes the worker's configured playbooks authoritative; the result is recorded in history, so a
replay uses exactly the plan (and content hash) the incident started with even if the files
changed since. A missing playbook or an unresolved parameter is returned as an error the
workflow records (the incident then waits in triage), never retried.
"""

from __future__ import annotations

from temporalio import activity

from orchestrator.domain import Alert, Playbook, Resources
from orchestrator.errors import InvalidInput, NotFound
from orchestrator.playbooks.loader import load_playbooks, playbook_for, resolve
from orchestrator.settings import Settings
from workflows.contracts import (
    ASSIGN_PLAYBOOK,
    DEFAULT_HISTORY_LIMIT,
    RESOLVE_PLAYBOOK,
    AssignInput,
    ResolvedPlaybook,
)


class PlaybookActivities:
    def __init__(self, settings: Settings, history_limit: int = DEFAULT_HISTORY_LIMIT) -> None:
        self.settings = settings
        self.history_limit = history_limit

    @activity.defn(name=RESOLVE_PLAYBOOK)
    async def resolve(self, alert: Alert) -> ResolvedPlaybook:
        try:
            playbook = playbook_for(alert.type, self._playbooks())
            return self._resolved(resolve(playbook, alert), alert=alert)
        except (InvalidInput, NotFound) as exc:
            return self._resolved(error=exc.detail, alert=alert)

    @activity.defn(name=ASSIGN_PLAYBOOK)
    async def assign(self, inp: AssignInput) -> ResolvedPlaybook:
        """The assigned playbook rendered for the incident's first alert, with the resources
        the responder named (they win over the alert's)."""
        try:
            playbook = self._playbooks().get(inp.playbook)
            if playbook is None:
                raise NotFound(f"no playbook {inp.playbook!r}")
            return self._resolved(resolve(playbook, with_resources(inp.alert, inp.resources)))
        except (InvalidInput, NotFound) as exc:
            return self._resolved(error=exc.detail)

    def _playbooks(self) -> dict[str, Playbook]:
        return load_playbooks(self.settings.playbooks_dir)

    def _resolved(
        self, playbook: Playbook | None = None, error: str | None = None, alert: Alert | None = None
    ) -> ResolvedPlaybook:
        """`alert`: the incident's first alert, whose severity and type pick its SLA."""
        sla = self.settings.sla_for(alert.severity, alert.type) if alert else None
        return ResolvedPlaybook(
            playbook=playbook,
            error=error,
            quiet_seconds=self.settings.incident_quiet_seconds,
            history_limit=self.history_limit,
            sla=sla,
        )


def with_resources(alert: Alert, named: Resources | None) -> Alert:
    if named is None:
        return alert
    given = named.model_dump(exclude_none=True)
    return alert.model_copy(update={"resources": alert.resources.model_copy(update=given)})

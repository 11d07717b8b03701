"""The `playbooks.resolve` local activity: pick and render the playbook when an incident opens.

Resolving on the worker (not in the API) keeps `submit_alert` independent of playbook files and
makes the worker's configured playbooks authoritative; the result is recorded in history, so a
replay uses exactly the plan (and content hash) the incident started with even if the files
changed since. A missing playbook or an unresolved parameter is returned as an error the
workflow records and closes the incident on, never retried.
"""

from __future__ import annotations

from temporalio import activity

from orchestrator.domain import Alert
from orchestrator.errors import InvalidInput, NotFound
from orchestrator.playbooks.loader import load_playbooks, playbook_for, resolve
from orchestrator.settings import Settings
from workflows.contracts import DEFAULT_HISTORY_LIMIT, RESOLVE_PLAYBOOK, ResolvedPlaybook


class PlaybookActivities:
    def __init__(self, settings: Settings, history_limit: int = DEFAULT_HISTORY_LIMIT) -> None:
        self.settings = settings
        self.history_limit = history_limit

    @activity.defn(name=RESOLVE_PLAYBOOK)
    async def resolve(self, alert: Alert) -> ResolvedPlaybook:
        tuning = {
            "quiet_seconds": self.settings.incident_quiet_seconds,
            "history_limit": self.history_limit,
        }
        try:
            playbook = playbook_for(alert.type, load_playbooks(self.settings.playbooks_dir))
            return ResolvedPlaybook(playbook=resolve(playbook, alert), **tuning)
        except (InvalidInput, NotFound) as exc:
            return ResolvedPlaybook(error=exc.detail, **tuning)

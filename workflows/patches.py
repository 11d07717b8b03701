"""The incident workflow's patch ids: each marks a place where the order of commands changed.

`workflow.patched(ID)` is true for a run that reaches that place on code that knows the change
and false while an older history replays, so incidents that were running across an upgrade
keep their recorded order. A patch can be retired in two releases, once no incident that
started before it can still be running (the longest an incident lives is its approval
deadlines plus the quiet period; `firebreak incidents list` shows the oldest open one): first
`workflow.deprecate_patch(ID)` with the old branch removed, then the call itself, together with
the replay histories recorded before the change (`tests/workflows/histories/before_*`).
"""

from __future__ import annotations

UNDO_ONLY_CHANGES = "undo-only-changes"
"""An effect that changed nothing (already in place, or held by another incident under the
resource guard) has nothing to undo: neither an `undo` step nor an abort runs its inverse."""

LOCAL_ACTIONS = "local-actions"
"""Actions marked `local` in the catalogue (`orchestrator.actions`) run as local activities."""

LOCAL_NOTIFY = "local-notify"
"""`notify.send` runs as a local activity (a short call, retried in the worker)."""

BATCHED_ATTACH = "batched-attach"
"""While the workflow waits, alert events are appended in batches (`workflows.intake`)."""

TRIAGE = "triage"
"""An incident without a playbook waits in triage for a responder instead of closing as
`playbook_error` (`workflows.triage`)."""

LIFECYCLE = "lifecycle"
"""The incident's status follows its lifecycle (open, contained, resolved, closed), with an event
for each transition, responders' acknowledge/resolve/close, reopening, and the SLA clock's
timers (`workflows.lifecycle`, `workflows.sla`). Asked first thing in every run."""

"""The catalogue of actions a playbook step may name.

Pure data, importable from workflow code: the workflow validates playbooks against it, picks
timeouts and retry behaviour from it, and knows which action undoes which. The activity that
implements an action is registered under the same name (see `activities/`).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ActionSpec:
    name: str
    params: tuple[str, ...]
    optional: tuple[str, ...] = ()
    inverse: str | None = None
    effect: bool = True
    long_running: bool = False
    outputs: tuple[str, ...] = field(default=())
    start_to_close_seconds: int = 60
    heartbeat_seconds: int | None = None
    max_attempts: int = 5
    non_retryable: tuple[str, ...] = field(default_factory=lambda: NON_RETRYABLE_ERRORS)
    local: bool = False
    """Run as a local activity: inside the workflow task that asks for it, without the server
    round trips and history writes of a scheduled activity. For short, idempotent provider
    calls (a key revoked, a tool suspended): containment then lands in the incident's first
    workflow task. Anything long, heartbeating or heavy stays a regular activity."""


NON_RETRYABLE_ERRORS: tuple[str, ...] = (
    "InvalidParams",
    "ResourceNotFound",
    "IntegrityFailure",
    "ValidationFailed",
    "RetrainingFailed",
)
"""ApplicationError types (raised by `activities/`) that no retry can fix; see docs/activities.md.
Timeouts and attempts above are per attempt / per activity; backoff is the workflow's choice."""


ACTIONS: dict[str, ActionSpec] = {
    spec.name: spec
    for spec in (
        ActionSpec("keys.revoke", ("key_id",), inverse="keys.restore", local=True),
        ActionSpec("keys.restore", ("key_id",), local=True),
        ActionSpec("keys.usage", ("key_id",), effect=False, local=True),
        ActionSpec(
            "models.snapshot",
            ("model",),
            ("alias",),
            effect=False,
            outputs=("version",),
            local=True,
        ),
        ActionSpec(
            "models.rollback",
            ("model",),
            ("alias", "to_version"),
            inverse="models.restore",
            outputs=("from_version", "to_version"),
        ),
        ActionSpec("models.restore", ("model", "version"), ("alias",)),
        ActionSpec(
            "models.validate",
            ("model",),
            ("alias", "version"),
            effect=False,
            start_to_close_seconds=300,
        ),
        ActionSpec("datasets.verify", ("dataset",), ("version",), effect=False),
        ActionSpec("datasets.quarantine", ("dataset",), ("version",), inverse="datasets.release"),
        ActionSpec("datasets.release", ("dataset",), ("version",)),
        ActionSpec(
            "retraining.run",
            ("model", "dataset"),
            ("version",),
            long_running=True,
            outputs=("run_id", "model_version"),
            start_to_close_seconds=3600,
            heartbeat_seconds=60,
            max_attempts=3,
        ),
        ActionSpec(
            "agents.suspend_tool", ("agent", "tool"), inverse="agents.restore_tool", local=True
        ),
        ActionSpec("agents.restore_tool", ("agent", "tool"), local=True),
        ActionSpec(
            "evidence.collect",
            ("kind",),
            ("resource",),
            effect=False,
            start_to_close_seconds=120,
        ),
    )
}

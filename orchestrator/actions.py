"""The catalogue of actions a playbook step may name.

Pure data, importable from workflow code: the workflow validates playbooks against it, picks
timeouts and retry behaviour from it, and knows which action undoes which. The activity that
implements an action is registered under the same name (see `activities/`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

OutputType = Literal["string", "integer", "number", "boolean"]
"""What an output's text holds. Outputs travel as strings (`ActionResult.outputs`); the type
says how a `when:` condition may compare them (`at_least` only on numbers, `equals: true` only
on booleans), checked when the playbook loads."""


@dataclass(frozen=True)
class Output:
    """One declared output of an action: a later step may reference it as
    `{{ steps.<step>.outputs.<name> }}` or test it in `when:`. Declaring it is the promise the
    playbook check relies on; an action may return more (diagnostics), which only people read."""

    name: str
    type: OutputType = "string"
    description: str = ""


def out(name: str, type: OutputType = "string", description: str = "") -> Output:
    return Output(name, type, description)


@dataclass(frozen=True)
class ActionSpec:
    name: str
    params: tuple[str, ...]
    optional: tuple[str, ...] = ()
    inverse: str | None = None
    effect: bool = True
    long_running: bool = False
    outputs: tuple[Output, ...] = field(default=())
    start_to_close_seconds: int = 60
    heartbeat_seconds: int | None = None
    max_attempts: int = 5
    non_retryable: tuple[str, ...] = field(default_factory=lambda: NON_RETRYABLE_ERRORS)
    local: bool = False
    """Run as a local activity: inside the workflow task that asks for it, without the server
    round trips and history writes of a scheduled activity. For short, idempotent provider
    calls (a key revoked, a tool suspended): containment then lands in the incident's first
    workflow task. Anything long, heartbeating or heavy stays a regular activity."""

    def output(self, name: str) -> Output | None:
        return next((o for o in self.outputs if o.name == name), None)


NON_RETRYABLE_ERRORS: tuple[str, ...] = (
    "InvalidParams",
    "ResourceNotFound",
    "IntegrityFailure",
    "ValidationFailed",
    "RetrainingFailed",
)
"""ApplicationError types (raised by `activities/`) that no retry can fix; see docs/activities.md.
Timeouts and attempts above are per attempt / per activity; backoff is the workflow's choice."""


_GUARDED = (
    out("guarded_by", description="The incident whose remediation of the resource holds it."),
    out("guarded_at", description="When that incident remediated it (ISO 8601)."),
)
"""What an effect held by the resource guard returns instead of its usual outputs."""

ACTIONS: dict[str, ActionSpec] = {
    spec.name: spec
    for spec in (
        ActionSpec(
            "keys.revoke",
            ("key_id",),
            inverse="keys.restore",
            local=True,
            outputs=(out("key_id"), out("active", "boolean"), *_GUARDED),
        ),
        ActionSpec(
            "keys.restore",
            ("key_id",),
            local=True,
            outputs=(out("key_id"), out("active", "boolean"), *_GUARDED),
        ),
        ActionSpec(
            "keys.usage",
            ("key_id",),
            effect=False,
            local=True,
            outputs=(
                out("key_id"),
                out("requests", "integer", "Requests made with the key."),
                out("last_used_at", description="ISO 8601, empty when never used."),
            ),
        ),
        ActionSpec(
            "models.snapshot",
            ("model",),
            ("alias",),
            effect=False,
            outputs=(
                out("model"),
                out("alias"),
                out("version", description="The version behind the alias, now a rollback target."),
            ),
            local=True,
        ),
        ActionSpec(
            "models.rollback",
            ("model",),
            ("alias", "to_version", "from_version"),
            inverse="models.restore",
            outputs=(
                out("model"),
                out("alias"),
                out("from_version", description="The version the alias left."),
                out("to_version", description="The version the alias serves now."),
                out(
                    "rolled_back",
                    "boolean",
                    "Whether the alias moved; false when it already served the target or (with"
                    " `from_version`) served another version than the one named.",
                ),
                *_GUARDED,
            ),
        ),
        ActionSpec(
            "models.restore",
            ("model", "version"),
            ("alias",),
            outputs=(
                out("model"),
                out("alias"),
                out("from_version"),
                out("to_version"),
                *_GUARDED,
            ),
        ),
        ActionSpec(
            "models.promote",
            ("model", "version"),
            ("alias",),
            inverse="models.restore",
            outputs=(
                out("model"),
                out("alias"),
                out("from_version", description="The version the alias served before."),
                out("to_version", description="The version the alias serves now."),
                *_GUARDED,
            ),
        ),
        ActionSpec(
            "models.validate",
            ("model",),
            ("alias", "version"),
            effect=False,
            start_to_close_seconds=300,
            outputs=(out("model"), out("version")),
        ),
        ActionSpec(
            "models.evaluate",
            ("model", "version"),
            ("baseline_version", "min_score", "metric"),
            effect=False,
            start_to_close_seconds=300,
            outputs=(
                out("passed", "boolean", "Checks, threshold and baseline all passed."),
                out("model"),
                out("version"),
                out("metric", description="The metric compared."),
                out("score", "number", "The version's score on held-out data."),
                out("min_score", "number", "The threshold it had to reach."),
                out("baseline_version", description="The version compared against, if any."),
                out("baseline_score", "number", "The baseline's score on the same data."),
                out("detail", description="Why it passed or failed, for people."),
            ),
        ),
        ActionSpec(
            "datasets.verify",
            ("dataset",),
            ("version",),
            effect=False,
            outputs=(
                out("dataset"),
                out("ok", "boolean", "Every checked version matches its manifest."),
                out("checked_versions", description="Comma-separated."),
                out("failing_versions", description="Comma-separated; empty when ok."),
            ),
        ),
        ActionSpec(
            "datasets.quarantine",
            ("dataset",),
            ("version",),
            inverse="datasets.release",
            outputs=(out("dataset"), out("version"), *_GUARDED),
        ),
        ActionSpec(
            "datasets.release",
            ("dataset",),
            ("version",),
            outputs=(out("dataset"), out("version"), *_GUARDED),
        ),
        ActionSpec(
            "retraining.run",
            ("model", "dataset"),
            ("version",),
            long_running=True,
            outputs=(
                out("run_id"),
                out("model_version", description="The version the run registered."),
                out("detail"),
                *_GUARDED,
            ),
            start_to_close_seconds=3600,
            heartbeat_seconds=60,
            max_attempts=3,
        ),
        ActionSpec(
            "agents.suspend_tool",
            ("agent", "tool"),
            inverse="agents.restore_tool",
            local=True,
            outputs=(out("agent"), out("tool"), out("enabled", "boolean"), *_GUARDED),
        ),
        ActionSpec(
            "agents.restore_tool",
            ("agent", "tool"),
            local=True,
            outputs=(out("agent"), out("tool"), out("enabled", "boolean"), *_GUARDED),
        ),
        ActionSpec(
            "notify.responders",
            ("title",),
            ("body", "severity"),
            effect=False,
            local=True,
            outputs=(out("sent", "boolean"),),
        ),
        ActionSpec(
            "evidence.collect",
            ("kind",),
            ("resource",),
            effect=False,
            start_to_close_seconds=120,
            outputs=(out("kind"), out("resource"), out("sha256", description="The digest.")),
        ),
    )
}

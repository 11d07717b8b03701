"""Step outputs: what a later step reads of an earlier one's result.

A step's parameters may hold `{{ steps.<id>.outputs.<name> }}`, and its `when:` may compare one
such output. The playbook check (`orchestrator.playbooks.validation`) has already proved, when
the playbook loaded, that `<id>` is an earlier step and that its action declares `<name>`; what
is left for run time is the value. It comes from the earlier step's recorded result, which is
part of the workflow's state (`IncidentState.steps`), so it is the same on replay and survives
continue-as-new with the rest of the state — no second copy to keep in step.

An output an earlier step did not produce (it was skipped or rejected, the resource guard held
its effect, a dry run) is never a silent empty string: a parameter that needs it makes the step
fail with a reason naming the reference, and a `when:` that tests it is not met.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from orchestrator.domain import Condition, ConditionResult, StepState, StepStatus

STEP_REF = re.compile(
    r"^steps\.(?P<step>[a-z0-9][a-z0-9_.-]{0,63}?)\.outputs\.(?P<name>[A-Za-z0-9_.]{1,64})$"
)
"""A reference without braces: `steps.<step id>.outputs.<output name>`."""

_PLACEHOLDER = re.compile(r"\{\{\s*(steps\.[^{}]*?)\s*\}\}")
"""A step-output placeholder inside a parameter; alert placeholders are gone by run time."""

FINISHED = (StepStatus.succeeded, StepStatus.compensated)
"""Steps whose result is there to read (a compensated step did produce its outputs)."""


@dataclass(frozen=True)
class StepRef:
    step: str
    name: str

    def __str__(self) -> str:
        return f"steps.{self.step}.outputs.{self.name}"


class Unresolved(Exception):
    """A reference has no value: `reason` names it and says why, for the step's failure."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_ref(expr: str) -> StepRef | None:
    """The step and output `expr` names, or None when it is no step-output reference."""
    match = STEP_REF.match(expr.strip())
    return StepRef(match["step"], match["name"]) if match else None


def references(template: str) -> list[str]:
    """The step-output expressions (without braces) in one parameter value."""
    return _PLACEHOLDER.findall(template)


def has_references(params: dict[str, str]) -> bool:
    return any(references(v) for v in params.values())


def value_of(ref: StepRef, steps: list[StepState]) -> str:
    """The output's value, or `Unresolved` saying why there is none."""
    state = next((s for s in steps if s.step_id == ref.step), None)
    if state is None or state.status not in FINISHED or state.result is None:
        status = state.status.value if state else "unknown"
        raise Unresolved(f"{ref} has no value: step {ref.step} is {status}")
    value = state.result.outputs.get(ref.name, "")
    if not value:
        raise Unresolved(f"{ref} has no value: step {ref.step} did not return it")
    return value


def render(params: dict[str, str], steps: list[StepState]) -> dict[str, str]:
    """`params` with every step-output placeholder replaced by its value (as data: a value's
    own braces are never expanded again); `Unresolved` names the first that has none."""
    rendered: dict[str, str] = {}
    for key, template in params.items():

        def substitute(match: re.Match[str], key: str = key) -> str:
            ref = parse_ref(match.group(1))
            if ref is None:
                raise Unresolved(f"parameter {key}: {{{{ {match.group(1)} }}}} is no reference")
            try:
                return value_of(ref, steps)
            except Unresolved as exc:
                raise Unresolved(f"parameter {key}: {exc.reason}") from None

        rendered[key] = _PLACEHOLDER.sub(substitute, template)
    return rendered


def evaluate(condition: Condition, steps: list[StepState]) -> ConditionResult:
    """Whether `condition` holds, with the value it saw (recorded in the step's events)."""
    op, operand = condition.comparison
    shown = operand if isinstance(operand, str) else f"{operand:g}"
    ref = parse_ref(condition.output)
    assert ref is not None, "checked when the playbook loaded"
    value: str | None
    try:
        value = value_of(ref, steps)
        met, reason = _compare(op, operand, value)
    except Unresolved as exc:
        value, met, reason = None, False, exc.reason
    return ConditionResult(
        output=condition.output, comparison=op, operand=shown, value=value, met=met, reason=reason
    )


def _compare(op: str, operand: str | float, value: str) -> tuple[bool, str]:
    if op == "equals":
        return value == operand, ""
    if op == "not_equals":
        return value != operand, ""
    try:
        number = float(value)
    except ValueError:
        return False, f"value {value!r} is not a number"
    assert isinstance(operand, float)
    return (number >= operand if op == "at_least" else number <= operand), ""

"""Checks a playbook must pass beyond its pydantic shape, against the action catalogue."""

from __future__ import annotations

from orchestrator.actions import ACTIONS, Output
from orchestrator.domain import Condition, Environment, PhaseName, Playbook
from orchestrator.errors import InvalidInput
from orchestrator.playbooks.templating import check_path, placeholders, step_ref
from workflows.outputs import StepRef, parse_ref

BOOLEANS = ("true", "false")
"""How a boolean output reads (`ActionResult.outputs` are text)."""
_POLICY_KEYS = frozenset({"default", *(e.value for e in Environment)})


def check_playbook(playbook: Playbook) -> None:
    """Raise InvalidInput naming the first problem: phase order, step ids, actions, params,
    step-output references and conditions."""
    order = [p.name for p in playbook.phases]
    if order != sorted(order, key=list(PhaseName).index) or len(set(order)) != len(order):
        raise InvalidInput(f"{playbook.id}: phases must appear once each, in order", "phases")
    seen: dict[str, str] = {}
    for phase in playbook.phases:
        for step in phase.steps:
            where = f"{playbook.id}: step {step.id}"
            if step.id in seen:
                raise InvalidInput(f"{where}: duplicate step id", "id")
            earlier = dict(seen)
            seen[step.id] = _check_step_action(where, step.action, step.undo, seen)
            _check_params(where, seen[step.id], step.params, earlier, undo=step.undo is not None)
            if step.when is not None:
                _check_condition(where, step.when, earlier)
            bad = set(step.approval) - _POLICY_KEYS
            if bad:
                raise InvalidInput(f"{where}: unknown approval tier {sorted(bad)[0]!r}", "approval")


def _check_step_action(
    where: str, action: str | None, undo: str | None, seen: dict[str, str]
) -> str:
    """The action the step runs: its own, or the inverse of the step it undoes."""
    if (action is None) == (undo is None):
        raise InvalidInput(f"{where}: give exactly one of 'action' or 'undo'", "action")
    if undo is not None:
        if undo not in seen:
            raise InvalidInput(f"{where}: undo names no earlier step {undo!r}", "undo")
        inverse = ACTIONS[seen[undo]].inverse
        if inverse is None:
            raise InvalidInput(f"{where}: action {seen[undo]} of {undo!r} has no inverse", "undo")
        return inverse
    assert action is not None
    if action not in ACTIONS:
        raise InvalidInput(f"{where}: unknown action {action!r}", "action")
    return action


def _check_params(
    where: str, action: str, params: dict[str, str], earlier: dict[str, str], *, undo: bool
) -> None:
    spec = ACTIONS[action]
    allowed = set(spec.params) | set(spec.optional)
    unknown = set(params) - allowed
    if unknown:
        raise InvalidInput(f"{where}: {action} takes no parameter {sorted(unknown)[0]!r}", "params")
    missing = [] if undo else [p for p in spec.params if p not in params]
    if missing:
        raise InvalidInput(f"{where}: {action} needs parameter {missing[0]!r}", "params")
    for name, template in params.items():
        for expr in placeholders(template):
            try:
                ref = step_ref(expr)
                if ref is None:
                    check_path(expr)
                else:
                    declared_output(ref, earlier)
            except InvalidInput as exc:
                raise InvalidInput(f"{where}: parameter {name}: {exc.detail}", name) from None


def declared_output(ref: StepRef, earlier: dict[str, str]) -> Output:
    """The output `ref` names, if its step comes earlier and its action declares it."""
    if ref.step not in earlier:
        raise InvalidInput(f"{ref} names no earlier step {ref.step!r}", "params")
    output = ACTIONS[earlier[ref.step]].output(ref.name)
    if output is None:
        action = earlier[ref.step]
        raise InvalidInput(f"{ref}: action {action} declares no output {ref.name!r}", "params")
    return output


def _check_condition(where: str, condition: Condition, earlier: dict[str, str]) -> None:
    ref = parse_ref(condition.output)
    if ref is None:
        raise InvalidInput(
            f"{where}: when: {condition.output!r} must read steps.<step id>.outputs.<name>",
            "when",
        )
    try:
        output = declared_output(ref, earlier)
    except InvalidInput as exc:
        raise InvalidInput(f"{where}: when: {exc.detail}", "when") from None
    op, operand = condition.comparison
    if op in ("at_least", "at_most") and output.type not in ("integer", "number"):
        raise InvalidInput(f"{where}: when: {op} needs a number, {ref} is {output.type}", "when")
    if output.type == "boolean" and op in ("equals", "not_equals") and operand not in BOOLEANS:
        raise InvalidInput(f"{where}: when: {ref} is boolean; compare it to true or false", "when")

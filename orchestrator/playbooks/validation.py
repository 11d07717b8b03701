"""Checks a playbook must pass beyond its pydantic shape, against the action catalogue."""

from __future__ import annotations

from orchestrator.actions import ACTIONS
from orchestrator.domain import Environment, PhaseName, Playbook
from orchestrator.errors import InvalidInput
from orchestrator.playbooks.templating import check_path, placeholders

_POLICY_KEYS = frozenset({"default", *(e.value for e in Environment)})


def check_playbook(playbook: Playbook) -> None:
    """Raise InvalidInput naming the first problem: phase order, step ids, actions, params."""
    order = [p.name for p in playbook.phases]
    if order != sorted(order, key=list(PhaseName).index) or len(set(order)) != len(order):
        raise InvalidInput(f"{playbook.id}: phases must appear once each, in order", "phases")
    seen: dict[str, str] = {}
    for phase in playbook.phases:
        for step in phase.steps:
            where = f"{playbook.id}: step {step.id}"
            if step.id in seen:
                raise InvalidInput(f"{where}: duplicate step id", "id")
            seen[step.id] = _check_step_action(where, step.action, step.undo, seen)
            _check_params(where, seen[step.id], step.params, undo=step.undo is not None)
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


def _check_params(where: str, action: str, params: dict[str, str], *, undo: bool) -> None:
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
                check_path(expr)
            except InvalidInput as exc:
                raise InvalidInput(f"{where}: parameter {name}: {exc.detail}", name) from None

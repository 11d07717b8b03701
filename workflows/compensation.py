"""What undoing an effect takes: the inverse action's parameters, and whether there is anything
to undo at all. Used by `undo` steps and by the compensation that follows an abort."""

from __future__ import annotations

from orchestrator.actions import ACTIONS
from orchestrator.domain import StepState


def changed_nothing(state: StepState) -> bool:
    """The step's effect was already in place, or the resource guard held it for another
    incident: its inverse would undo someone else's change."""
    return state.result is not None and not state.result.changed


def inverse_params(state: StepState) -> dict[str, str]:
    """The inverse action's parameters: the step's own, overridden by what its result says
    undoes it (say, the model version a rollback replaced), limited to what the inverse takes."""
    inverse = ACTIONS[state.action].inverse
    assert inverse is not None
    spec = ACTIONS[inverse]
    known = set(spec.params) | set(spec.optional)
    given = state.result.inverse_params if state.result and state.result.inverse_params else {}
    return {k: v for k, v in {**state.params, **given}.items() if k in known}

"""Step outputs and `when:` at load time: a reference names an earlier step and an output its
action declares, a condition compares a declared output as its type allows; resolving the
playbook from an alert leaves the references for the workflow, and refuses alert text that
would read as one."""

from __future__ import annotations

import pytest

from activities.providers.local.lab import LabInfo
from orchestrator.actions import ACTIONS
from orchestrator.domain import ApprovalMode, Environment, Resources
from orchestrator.errors import InvalidInput
from orchestrator.playbooks.loader import builtin_playbooks, parse_playbook, resolve
from tests.support.incidents import make_alert

CHAINED = """
id: chained
title: Chained outputs
alert_types: [data_poisoning]
phases:
  - name: containment
    steps:
      - id: pin
        action: models.snapshot
        params: {model: "{{ alert.resources.model }}"}
  - name: recovery
    steps:
      - id: retrain
        action: retraining.run
        params: {model: "{{ alert.resources.model }}", dataset: "{{ alert.resources.dataset }}"}
      - id: score
        action: models.evaluate
        params:
          model: "{{ alert.resources.model }}"
          version: "{{ steps.retrain.outputs.model_version }}"
          baseline_version: "v{{ steps.pin.outputs.version }}-base"
      - id: promote
        action: models.promote
        when: {output: steps.score.outputs.passed, equals: true}
        params:
          model: "{{ alert.resources.model }}"
          version: "{{ steps.retrain.outputs.model_version }}"
"""


def chained(old: str, new: str) -> str:
    assert old in CHAINED, old
    return CHAINED.replace(old, new)


def test_a_chained_playbook_loads() -> None:
    playbook = parse_playbook(CHAINED, "chained.yaml")
    promote = playbook.phases[-1].steps[-1]
    assert promote.when is not None and promote.when.equals == "true"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            chained(
                'steps.retrain.outputs.model_version }}"\n          baseline',
                'steps.nope.outputs.model_version }}"\n          baseline',
            ),
            "step score: parameter version: steps.nope.outputs.model_version names no earlier "
            "step 'nope'",
        ),
        (
            chained("steps.pin.outputs.version", "steps.promote.outputs.to_version"),
            "step score: parameter baseline_version: steps.promote.outputs.to_version names no "
            "earlier step 'promote'",
        ),
        (
            chained("steps.pin.outputs.version", "steps.score.outputs.version"),
            "names no earlier step 'score'",
        ),
        (
            chained("steps.pin.outputs.version", "steps.pin.outputs.weights"),
            "steps.pin.outputs.weights: action models.snapshot declares no output 'weights'",
        ),
        (
            chained("steps.pin.outputs.version", "steps.pin.version"),
            "must read steps.<step id>.outputs.<name>",
        ),
        (
            chained("output: steps.score.outputs.passed", "output: steps.later.outputs.passed"),
            "step promote: when: steps.later.outputs.passed names no earlier step 'later'",
        ),
        (
            chained("output: steps.score.outputs.passed", "output: steps.score.outputs.colour"),
            "when: steps.score.outputs.colour: action models.evaluate declares no output",
        ),
        (
            chained("equals: true", "at_least: 0.5"),
            "when: at_least needs a number, steps.score.outputs.passed is boolean",
        ),
        (chained("equals: true", "equals: maybe"), "compare it to true or false"),
        (chained("equals: true", "equals: true, at_most: 3"), "exactly one of"),
        (chained("output: steps.score.outputs.passed", "output: alert.title"), "must read"),
    ],
)
def test_bad_references_are_rejected_naming_them(text: str, message: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_playbook(text, "chained.yaml")
    assert message in err.value.detail, err.value.detail


def test_a_number_output_takes_at_least() -> None:
    text = chained(
        "when: {output: steps.score.outputs.passed, equals: true}",
        "when: {output: steps.score.outputs.score, at_least: 0.9}",
    )
    assert parse_playbook(text, "x.yaml").phases[-1].steps[-1].when is not None


def test_every_declared_output_has_a_type_and_actions_with_outputs_are_declared() -> None:
    for spec in ACTIONS.values():
        names = [o.name for o in spec.outputs]
        assert len(names) == len(set(names)), spec.name
        assert all(o.type in ("string", "integer", "number", "boolean") for o in spec.outputs)
    assert ACTIONS["models.promote"].inverse == "models.restore"
    passed = ACTIONS["models.evaluate"].output("passed")
    assert passed is not None and passed.type == "boolean"


def test_resolve_fills_alert_fields_and_leaves_step_references(lab: LabInfo) -> None:
    playbook = parse_playbook(CHAINED, "chained.yaml")
    resolved = resolve(playbook, make_alert(lab, "data_poisoning"))
    score = resolved.phases[-1].steps[1]
    assert score.params == {
        "model": lab.model,
        "version": "{{ steps.retrain.outputs.model_version }}",
        "baseline_version": "v{{ steps.pin.outputs.version }}-base",
    }


def test_alert_text_that_would_read_as_a_reference_is_refused(lab: LabInfo) -> None:
    hostile = Resources(model="{{ steps.pin.outputs.version }}", dataset=lab.dataset)
    alert = make_alert(lab, "data_poisoning", resources=hostile)
    with pytest.raises(InvalidInput) as err:
        resolve(parse_playbook(CHAINED, "chained.yaml"), alert)
    assert "step score: parameter model: alert field 'alert.resources.model' holds braces" in (
        err.value.detail
    )


def test_the_data_poisoning_playbook_promotes_only_what_passed() -> None:
    playbook = builtin_playbooks()["data-poisoning"]
    steps = {s.id: s for ph in playbook.phases for s in ph.steps}
    promote = steps["promote-retrained"]
    assert promote.when is not None and promote.when.output == (
        "steps.evaluate-retrained.outputs.passed"
    )
    assert promote.policy_for(Environment.prod).mode is ApprovalMode.two
    assert promote.policy_for(Environment.dev).mode is ApprovalMode.auto
    assert steps["evaluate-retrained"].params["version"] == (
        "{{ steps.retrain.outputs.model_version }}"
    )
    report = steps["report-kept-restored"]
    assert report.when is not None and report.when.equals == "false"

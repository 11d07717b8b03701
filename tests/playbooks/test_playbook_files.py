"""Playbook files: schema and catalogue validation, templating from alert fields only, user
directories overriding and extending the built-ins."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from activities.providers.local.lab import LabInfo
from orchestrator.domain import Environment, Resources
from orchestrator.errors import InvalidInput, NotFound
from orchestrator.playbooks.loader import (
    builtin_playbooks,
    load_playbooks,
    parse_playbook,
    playbook_for,
    resolve,
)
from tests.support.incidents import make_alert

VALID = """
id: custom-keys
title: Custom key response
alert_types: [api_key_abuse]
phases:
  - name: containment
    steps:
      - id: revoke
        action: keys.revoke
        params: {key_id: "{{ alert.resources.api_key }}"}
        approval:
          prod: {mode: two, deadline_seconds: 60, on_timeout: deny}
  - name: recovery
    steps:
      - id: restore
        undo: revoke
"""


def broken(old: str, new: str) -> str:
    assert old in VALID
    return VALID.replace(old, new)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a list", "a playbook is a YAML mapping"),
        ("id: [unclosed", "not valid YAML"),
        (broken("title: Custom key response\n", ""), "title: Field required"),
        (broken("keys.revoke", "keys.melt"), "unknown action 'keys.melt'"),
        (broken("key_id:", "kid:"), "keys.revoke takes no parameter 'kid'"),
        (broken('params: {key_id: "{{ alert.resources.api_key }}"}', "params: {}"), "needs"),
        (broken("alert.resources.api_key", "alert.resources.password"), "names no alert field"),
        (broken("alert.resources.api_key", "env.HOME"), "must start with 'alert.'"),
        (broken("alert.resources.api_key", "alert.resources.password?"), "names no alert field"),
        (broken("undo: revoke", "undo: nothing"), "undo names no earlier step"),
        (broken("  - name: recovery", "  - name: containment"), "once each, in order"),
        (broken("id: restore", "id: revoke"), "duplicate step id"),
        (broken("prod: {mode: two", "production: {mode: two"), "unknown approval tier"),
        (broken("mode: two", "mode: three"), "approval.prod.mode"),
        (broken("alert_types:", "on_reopen: later\nalert_types:"), "on_reopen"),
        (
            broken("      - id: restore\n        undo: revoke\n", "      - id: restore\n"),
            "exactly one of 'action' or 'undo'",
        ),
    ],
)
def test_invalid_playbooks_are_rejected_naming_the_problem(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)):
        parse_playbook(text, "custom.yaml")


def test_undo_needs_an_action_with_an_inverse() -> None:
    text = broken("keys.revoke", "keys.usage")
    with pytest.raises(InvalidInput, match=re.escape("keys.usage of 'revoke' has no inverse")):
        parse_playbook(text, "custom.yaml")


def test_content_hash_ignores_formatting_but_not_meaning() -> None:
    one = parse_playbook(VALID, "a.yaml")
    reformatted = parse_playbook(VALID.replace("{key_id: ", "{ key_id: ") + "\n# note\n", "b")
    changed = parse_playbook(VALID.replace("deadline_seconds: 60", "deadline_seconds: 61"), "c")
    assert one.content_hash.startswith("sha256:")
    assert one.content_hash == reformatted.content_hash != changed.content_hash


def test_parameters_resolve_from_the_alert_and_an_empty_field_is_an_error(lab: LabInfo) -> None:
    playbook = parse_playbook(VALID, "custom.yaml")
    alert = make_alert(lab, "api_key_abuse", Environment.prod)
    resolved = resolve(playbook, alert)
    assert resolved.phases[0].steps[0].params == {"key_id": lab.ingest_key}
    assert resolved.content_hash == playbook.content_hash
    bare = alert.model_copy(update={"resources": Resources()})
    with pytest.raises(InvalidInput, match=r"step revoke: parameter key_id: .*alert.resources"):
        resolve(playbook, bare)


def test_a_placeholder_marked_optional_renders_nothing_for_an_empty_field(lab: LabInfo) -> None:
    """`?` is for senders that leave a field out: the incident opens, the parameter is empty
    (which an action reads as not given), and a present field is still substituted."""
    text = broken(
        'params: {key_id: "{{ alert.resources.api_key }}"}',
        'params: {key_id: "{{ alert.resources.api_key }}-{{ alert.resources.agent ? }}"}',
    )
    playbook = parse_playbook(text, "custom.yaml")
    alert = make_alert(lab, "api_key_abuse", Environment.prod)
    without = alert.model_copy(update={"resources": Resources(api_key="k1")})
    assert resolve(playbook, without).phases[0].steps[0].params == {"key_id": "k1-"}
    given = alert.model_copy(update={"resources": Resources(api_key="k1", agent="bot")})
    assert resolve(playbook, given).phases[0].steps[0].params == {"key_id": "k1-bot"}
    with pytest.raises(InvalidInput, match=r"alert field 'alert.resources.api_key' is empty"):
        resolve(playbook, alert.model_copy(update={"resources": Resources(agent="bot")}))


def test_only_alert_placeholders_may_be_marked_optional() -> None:
    text = VALID.replace(
        "      - id: restore\n        undo: revoke\n",
        "      - id: restore\n        action: keys.restore\n"
        '        params: {key_id: "{{ steps.revoke.outputs.key_id? }}"}\n',
    )
    assert text != VALID
    with pytest.raises(InvalidInput, match=r"only alert fields may be marked '\?'"):
        parse_playbook(text, "custom.yaml")


def test_alert_text_is_substituted_as_data_never_evaluated(lab: LabInfo) -> None:
    playbook = parse_playbook(broken("alert.resources.api_key", "alert.labels.key"), "x.yaml")
    alert = make_alert(lab, "api_key_abuse", labels={"key": "{{ alert.source }}"})
    assert resolve(playbook, alert).phases[0].steps[0].params == {"key_id": "{{ alert.source }}"}


def test_user_directory_overrides_and_extends_builtins(tmp_path: Path) -> None:
    (tmp_path / "custom.yaml").write_text(VALID)
    override = builtin_playbooks()["prompt-injection"].model_dump(
        mode="json", exclude={"content_hash"}
    )
    override["title"] = "Our prompt-injection plan"
    (tmp_path / "prompt.yml").write_text(yaml.safe_dump(override))
    playbooks = load_playbooks(tmp_path)
    assert set(playbooks) == set(builtin_playbooks()) | {"custom-keys"}
    assert playbooks["prompt-injection"].title == "Our prompt-injection plan"
    assert playbook_for("api_key_abuse", playbooks).id == "custom-keys", "user playbook wins"
    assert playbook_for("data_poisoning", playbooks).id == "data-poisoning"
    with pytest.raises(NotFound, match="no playbook handles alert type 'unknown_type'"):
        playbook_for("unknown_type", playbooks)
    with pytest.raises(InvalidInput, match="playbooks directory not found"):
        load_playbooks(tmp_path / "missing")

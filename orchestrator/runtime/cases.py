"""Playbook test cases: an alert, the decisions people make, and what must come of it.

A case is a YAML file kept next to a playbook (the built-ins' are in
`orchestrator/playbooks/builtin/cases/`); `firebreak playbooks test --cases DIR` rehearses each
(`orchestrator.runtime.rehearsal`: the real workflow and activities on a throwaway lab) and
compares. A difference is a line naming the step and both values, and the command exits 1, so
a playbook author's CI fails on the change that broke a case.

```yaml
name: data poisoning in prod, the retrained model promoted
playbook: data-poisoning          # a built-in's id, or a file relative to the case
alert: {type: data_poisoning, environment: prod, resources: {model: fraud-detector}}
decide: {rollback-model: approve} # step -> approve|reject|retry|skip|abort|timeout
params: {evaluate-retrained: {min_score: "0.9999"}}   # optional: what if a step's params were
expect:
  outcome: resolved
  steps: {promote-retrained: succeeded, report-kept-restored: skipped}
  outputs: {promote-retrained: {to_version: "4"}}
  compensated: [revoke-ingest-key]
```
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from orchestrator.domain import Alert, Phase, Playbook, StepStatus
from orchestrator.errors import InvalidInput
from orchestrator.playbooks.loader import builtin_playbooks, load_file
from orchestrator.playbooks.validation import check_playbook
from orchestrator.runtime.rehearsal import Rehearsal

BUILTIN_CASES = resources.files("orchestrator.playbooks").joinpath("builtin", "cases")
"""The cases shipped with the built-in playbooks."""


class Expected(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: str | None = None
    steps: dict[str, StepStatus] = Field(default_factory=dict)
    outputs: dict[str, dict[str, str]] = Field(default_factory=dict)
    compensated: list[str] | None = None


class Case(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    playbook: str
    alert: dict[str, Any]
    decide: dict[str, str] = Field(default_factory=dict)
    params: dict[str, dict[str, str]] = Field(default_factory=dict)
    expect: Expected


def load_case(path: Path) -> Case:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidInput(f"{path}: cannot read the case: {exc}".splitlines()[0]) from None
    try:
        return Case.model_validate(doc)
    except ValidationError as exc:
        raise invalid(exc, f"{path}: ") from None


def case_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        raise InvalidInput(f"cases directory not found: {directory}", "cases")
    found = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    if not found:
        raise InvalidInput(f"no case files (*.yaml) in {directory}", "cases")
    return found


def playbook_of(case: Case, case_file: Path) -> Playbook:
    """The case's playbook (a built-in id or a file beside the case), with its `params`."""
    if case.playbook.endswith((".yaml", ".yml")):
        playbook = load_file(case_file.parent / case.playbook)
    else:
        found = builtin_playbooks().get(case.playbook)
        if found is None:
            raise InvalidInput(f"{case_file}: no built-in playbook {case.playbook!r}", "playbook")
        playbook = found
    return with_params(playbook, case.params, str(case_file))


def with_params(playbook: Playbook, params: dict[str, dict[str, str]], source: str) -> Playbook:
    """`playbook` with some steps' parameters replaced, checked again like a loaded file."""
    ids = {s.id for ph in playbook.phases for s in ph.steps}
    unknown = sorted(set(params) - ids)
    if unknown:
        raise InvalidInput(f"{source}: params: {playbook.id} has no step {unknown[0]!r}", "params")
    phases = [
        Phase(
            name=ph.name,
            steps=[
                s.model_copy(update={"params": {**s.params, **params.get(s.id, {})}})
                for s in ph.steps
            ],
        )
        for ph in playbook.phases
    ]
    changed = playbook.model_copy(update={"phases": phases})
    try:
        check_playbook(changed)
    except InvalidInput as exc:
        raise InvalidInput(f"{source}: {exc.detail}", exc.field) from None
    return changed


def alert_from(doc: dict[str, Any], source: str) -> Alert:
    """An alert from its fields; id, source, fingerprint and time default to fresh ones."""
    fields = {
        "id": f"rehearsal-{uuid.uuid4().hex[:10]}",
        "source": "rehearsal-detector",
        "fingerprint": uuid.uuid4().hex,
        "received_at": datetime.now(UTC),
        **doc,
    }
    try:
        return Alert.model_validate(fields)
    except ValidationError as exc:
        raise invalid(exc, f"{source}: alert.") from None


def invalid(exc: ValidationError, prefix: str) -> InvalidInput:
    """The first problem pydantic found, as one line: `prefix`, its field path, the reason."""
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    return InvalidInput(f"{prefix}{loc}: {err['msg']}", loc)


def differences(expected: Expected, got: Rehearsal) -> list[str]:
    """Every way `got` differs from `expected`, one readable line each (empty: it passed)."""
    lines = []
    if expected.outcome is not None and expected.outcome != got.outcome:
        lines.append(f"outcome: expected {expected.outcome}, got {got.outcome}")
    for step_id, status in expected.steps.items():
        step = got.step(step_id)
        actual = step.status if step else "absent"
        if actual != status.value:
            why = f" ({step.error})" if step and step.error else ""
            lines.append(f"step {step_id}: expected {status.value}, got {actual}{why}")
    for step_id, outputs in expected.outputs.items():
        step = got.step(step_id)
        for name, value in outputs.items():
            actual_value = step.outputs.get(name) if step else None
            if actual_value != value:
                lines.append(
                    f"step {step_id}: output {name}: expected {value!r}, got {actual_value!r}"
                )
    if expected.compensated is not None:
        done = [c["step_id"] for c in got.compensations if not c["error"]]
        if sorted(done) != sorted(expected.compensated):
            lines.append(
                f"compensated: expected {sorted(expected.compensated)}, got {sorted(done)}"
            )
    return lines

"""Load playbooks: built-ins shipped as package data, then the user directory over them.

A user playbook with a built-in's id replaces it; a new id extends the set. Each playbook's
`content_hash` is the SHA-256 of its canonical JSON, so the hash recorded at incident start
names exactly the plan that ran, whatever the YAML formatting.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from importlib import resources
from pathlib import Path

import yaml
from pydantic import ValidationError

from orchestrator.domain import Alert, Phase, Playbook, Step
from orchestrator.errors import InvalidInput, NotFound
from orchestrator.playbooks.templating import has_step_refs, render
from orchestrator.playbooks.validation import check_playbook


def parse_playbook(text: str, source: str) -> Playbook:
    """Validate one YAML document; every problem is one InvalidInput naming `source`."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{source}: not valid YAML: {exc}".splitlines()[0]) from None
    if not isinstance(doc, dict):
        raise InvalidInput(f"{source}: a playbook is a YAML mapping")
    doc.pop("content_hash", None)
    try:
        playbook = Playbook.model_validate(doc)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise InvalidInput(f"{source}: {loc}: {err['msg']}", field=loc) from None
    check_playbook(playbook)
    return playbook.model_copy(update={"content_hash": content_hash(playbook)})


def content_hash(playbook: Playbook) -> str:
    body = playbook.model_dump(mode="json", exclude={"content_hash"})
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def load_file(path: Path) -> Playbook:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read: {exc.strerror}") from None
    return parse_playbook(text, str(path))


def builtin_playbooks() -> dict[str, Playbook]:
    """The shipped playbooks by id (parsed once per process; the dict is a fresh copy)."""
    return dict(_builtins())


@cache
def _builtins() -> dict[str, Playbook]:
    found: dict[str, Playbook] = {}
    for entry in sorted(resources.files(__package__).joinpath("builtin").iterdir(), key=str):
        if entry.name.endswith((".yaml", ".yml")):
            playbook = parse_playbook(entry.read_text(encoding="utf-8"), f"builtin/{entry.name}")
            found[playbook.id] = playbook
    return found


ROUTES_FILES = frozenset({"routes.yaml", "routes.yml"})
"""Not playbooks: the routes file may sit beside them (`orchestrator/routing/`)."""


def load_playbooks(user_dir: Path | None) -> dict[str, Playbook]:
    """Built-ins, overridden and extended by `*.yaml`/`*.yml` files in `user_dir` (but the
    routes file)."""
    playbooks = builtin_playbooks()
    if user_dir is not None:
        if not user_dir.is_dir():
            raise InvalidInput(f"playbooks directory not found: {user_dir}", "playbooks_dir")
        for path in sorted([*user_dir.glob("*.yaml"), *user_dir.glob("*.yml")]):
            if path.name in ROUTES_FILES:
                continue
            playbook = load_file(path)
            playbooks[playbook.id] = playbook
    return playbooks


def playbook_for(alert_type: str, playbooks: dict[str, Playbook]) -> Playbook:
    """The playbook handling `alert_type`; a user playbook wins over a built-in for a type."""
    matches = [p for p in playbooks.values() if alert_type in p.alert_types]
    if not matches:
        raise NotFound(f"no playbook handles alert type {alert_type!r}")
    builtin_ids = set(_builtins())
    matches.sort(key=lambda p: (p.id in builtin_ids, p.id))
    return matches[0]


def resolve(playbook: Playbook, alert: Alert) -> Playbook:
    """The playbook with every step parameter rendered from `alert` (hash unchanged)."""

    def step(s: Step) -> Step:
        where = f"{playbook.id}: step {s.id}"
        refs = has_step_refs(s.params)
        params = {
            k: render(v, alert, where=f"{where}: parameter {k}", refs_follow=refs)
            for k, v in s.params.items()
        }
        return s.model_copy(update={"params": params})

    phases = [Phase(name=ph.name, steps=[step(s) for s in ph.steps]) for ph in playbook.phases]
    return playbook.model_copy(update={"phases": phases})

"""`firebreak playbooks list|show|validate|test`: inspect the playbooks a worker would use, and
rehearse one for an alert (or a directory of cases) before it runs in production."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer
import yaml

from orchestrator.domain import Playbook
from orchestrator.errors import InvalidInput, NotFound
from orchestrator.playbooks.loader import builtin_playbooks, load_file, load_playbooks
from orchestrator.runtime.cases import (
    alert_from,
    case_files,
    differences,
    load_case,
    playbook_of,
)
from orchestrator.runtime.rehearsal import rehearse, render_text
from orchestrator.settings import load_settings

playbooks_app = typer.Typer(help="Inspect and validate playbooks.", no_args_is_help=True)


@playbooks_app.command("list")
def list_playbooks(
    as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts.")] = False,
) -> None:
    """Every playbook (built-in and from FIREBREAK_PLAYBOOKS_DIR) with its alert types."""
    playbooks = load_playbooks(load_settings().playbooks_dir)
    builtin = builtin_playbooks()
    listed = [
        {
            "id": pb.id,
            "origin": "builtin" if builtin.get(pb.id) == pb else "user",
            "alert_types": list(pb.alert_types),
            "content_hash": pb.content_hash,
            "title": pb.title,
        }
        for pb in sorted(playbooks.values(), key=lambda p: p.id)
    ]
    if as_json:
        typer.echo(json.dumps(listed, indent=2))
        return
    for item in listed:
        types = ",".join(item["alert_types"])
        short_hash = str(item["content_hash"])[:19]
        typer.echo(f"{item['id']}\t{item['origin']}\t{types}\t{short_hash}\t{item['title']}")


@playbooks_app.command("show")
def show(playbook_id: Annotated[str, typer.Argument(help="Playbook id.")]) -> None:
    """Print one playbook as validated YAML, with its content hash."""
    playbooks = load_playbooks(load_settings().playbooks_dir)
    if playbook_id not in playbooks:
        raise NotFound(f"no playbook {playbook_id!r} (see `firebreak playbooks list`)")
    doc = playbooks[playbook_id].model_dump(mode="json", exclude_defaults=True)
    typer.echo(yaml.safe_dump(doc, sort_keys=False), nl=False)


@playbooks_app.command("validate")
def validate(path: Annotated[Path, typer.Argument(help="A playbook YAML file.")]) -> None:
    """Check a playbook file against the schema and the action catalogue."""
    pb = load_file(path)
    typer.echo(f"ok: {pb.id} ({pb.content_hash})")


@playbooks_app.command("test")
def test(
    playbook: Annotated[
        str | None, typer.Argument(help="A playbook file, or a built-in playbook's id.")
    ] = None,
    alert: Annotated[
        Path | None, typer.Option("--alert", help="A JSON file with the alert's fields.")
    ] = None,
    decide: Annotated[
        list[str] | None,
        typer.Option(
            "--decide",
            help="STEP=approve|reject|retry|skip|abort|timeout (repeatable); unscripted "
            "approvals are given, unscripted failures abort.",
        ),
    ] = None,
    cases: Annotated[
        Path | None, typer.Option("--cases", help="Run every case file (*.yaml) in DIR.")
    ] = None,
) -> None:
    """Rehearse a playbook on a throwaway lab (the real workflow and activities on a
    time-skipping server) and print each step: parameters, approvals, outputs, compensations."""
    if cases is not None:
        if playbook is not None or alert is not None or decide:
            raise InvalidInput(
                "--cases runs the cases alone: give no PLAYBOOK, --alert or --decide"
            )
        failed = _run_cases(cases)
        raise typer.Exit(1 if failed else 0)
    if playbook is None or alert is None:
        raise InvalidInput("give PLAYBOOK and --alert ALERT.json, or --cases DIR")
    chosen = _playbook(playbook)
    decisions = _decisions(decide or [])
    report = asyncio.run(rehearse(chosen, alert_from(_json(alert), str(alert)), decisions))
    typer.echo(render_text(report))


def _playbook(name: str) -> Playbook:
    if name.endswith((".yaml", ".yml")) or Path(name).is_file():
        return load_file(Path(name))
    found = builtin_playbooks().get(name)
    if found is None:
        raise InvalidInput(f"no playbook file or built-in playbook {name!r}", "playbook")
    return found


def _decisions(given: list[str]) -> dict[str, str]:
    decisions: dict[str, str] = {}
    for item in given:
        step, sep, answer = item.partition("=")
        if not sep or not step or not answer:
            raise InvalidInput(f"--decide {item!r}: write STEP=ANSWER", "decide")
        decisions[step.strip()] = answer.strip()
    return decisions


def _json(path: Path) -> dict[str, object]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read: {exc.strerror}", "alert") from None
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"{path}: not valid JSON: {exc.msg} (line {exc.lineno})", "alert"
        ) from None
    if not isinstance(doc, dict):
        raise InvalidInput(f"{path}: an alert is a JSON object", "alert")
    return doc


def _run_cases(directory: Path) -> int:
    """Rehearse every case in `directory`; print `ok`/`FAIL` and each difference. The count
    of failed cases."""
    failed = 0
    for path in case_files(directory):
        case = load_case(path)
        playbook = playbook_of(case, path)
        alert = alert_from(case.alert, str(path))
        report = asyncio.run(rehearse(playbook, alert, case.decide))
        diff = differences(case.expect, report)
        typer.echo(f"{'FAIL' if diff else 'ok'}  {path.name}: {case.name}")
        for line in diff:
            typer.echo(f"  - {line}")
        failed += bool(diff)
    typer.echo(f"{failed} of {len(case_files(directory))} case(s) failed")
    return failed

"""`firebreak playbooks list|show|validate`: inspect the playbooks a worker would use."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
import yaml

from orchestrator.errors import NotFound
from orchestrator.playbooks.loader import builtin_playbooks, load_file, load_playbooks
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

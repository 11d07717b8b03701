"""`firebreak evidence`: read collected evidence from any host that has the database and the
key ring (and, for the S3 store, its credentials), without the API.

`get` exits 0 once the verified bytes are written, 1 when the item failed its integrity check
(tampered, or sealed under a key this key ring lacks), and 2 when it could not be read at all
(a malformed or unknown digest, the store or the database unreachable), like `audit verify`.
Every read is recorded as `EvidenceRead`, the actor naming the operating-system user.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from activities.factory import build_evidence_reader
from orchestrator import db
from orchestrator.audit import open_event_store
from orchestrator.domain import Actor, Environment
from orchestrator.errors import CryptoError, FirebreakError, InvalidInput
from orchestrator.evidence import service
from orchestrator.settings import Settings, load_settings

evidence_app = typer.Typer(help="Read collected evidence.", no_args_is_help=True)
EVERY_ENVIRONMENT = [e.value for e in Environment]


def cli_actor() -> Actor:
    """The reader as the ledger names it: this tool, run by this operating-system user."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return Actor(id=f"firebreak/cli/{user}", role="system")


def _reading_settings() -> Settings:
    """Settings of a process that only reads: the schema and the key ring must be there (a
    read never creates a database, a directory or a key ring that could open nothing)."""
    settings = load_settings()
    db.require_schema(settings.db_url)
    if not settings.keyring_path.is_file():
        raise CryptoError(
            f"no key ring at {settings.keyring_path}: evidence opens only with the ring that"
            " sealed it (FIREBREAK_KEYRING_FILE)"
        )
    return settings


def _fail(detail: str, code: int) -> typer.Exit:
    typer.echo(f"firebreak: {detail}", err=True)
    return typer.Exit(code)


@evidence_app.command("get")
def get(
    digest: Annotated[str, typer.Argument(help="sha256 of the item (64 hex digits).")],
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the bytes here instead of stdout.")
    ] = None,
) -> None:
    """Write one item's verified bytes (exit 0), 1 if it fails its integrity check, 2 if it
    cannot be read."""
    if out is not None and out.exists():
        raise _fail(f"--out: {out} exists; not overwriting evidence output", 2)
    try:
        settings = _reading_settings()
        store = open_event_store(settings)
        item, content = asyncio.run(
            service.read(
                store,
                build_evidence_reader(settings),
                digest,
                environments=EVERY_ENVIRONMENT,
                actor=cli_actor(),
                via="cli",
            )
        )
    except service.EvidenceTampered as exc:
        raise _fail(exc.detail, 1) from None
    except FirebreakError as exc:
        raise _fail(exc.detail, 2) from None
    if out is None:
        sys.stdout.buffer.write(content)
        sys.stdout.buffer.flush()
    else:
        try:
            out.write_bytes(content)
        except OSError as exc:
            raise _fail(f"--out: cannot write {out}: {exc.strerror}", 2) from None
    typer.echo(
        f"evidence {item.digest}: {len(content)} bytes, incident {item.incident_id}"
        f" step {item.step_id}; the read is recorded",
        err=True,
    )


@evidence_app.command("list")
def list_items(
    incident: Annotated[str, typer.Option("--incident", help="Incident id.")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """The items an incident collected, in the order the ledger recorded them."""
    if not incident.strip():
        raise InvalidInput("--incident: an incident id is required", "--incident")
    settings = _reading_settings()
    items = service.of_incident(open_event_store(settings), incident, EVERY_ENVIRONMENT)
    for item in items:
        if as_json:
            row = {
                "digest": item.digest,
                "incident_id": item.incident_id,
                "step_id": item.step_id,
                "collected_at": item.collected_at.isoformat(),
            }
            typer.echo(json.dumps(row))
        else:
            typer.echo(f"{item.digest}  {item.collected_at.isoformat()}  {item.step_id}")
    if not items:
        typer.echo(f"no evidence recorded for incident {incident!r}", err=True)

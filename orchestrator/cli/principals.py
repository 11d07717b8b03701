"""`firebreak principals`: admin tooling that talks to the database directly.

It works before any admin token exists (the first admin is made here or by `firebreak up`),
and when the API is down. Tokens and webhook secrets are printed once, alone on stdout, so
`TOKEN=$(firebreak principals create ...)` captures exactly the secret.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import sqlalchemy as sa
import typer
from rich.console import Console
from rich.table import Table

from orchestrator.db import make_engine, require_schema
from orchestrator.domain import Actor, Environment, Role
from orchestrator.principals import service
from orchestrator.security.keyring import KeyRing
from orchestrator.settings import load_settings

principals_app = typer.Typer(help="Manage API principals and their tokens.", no_args_is_help=True)
ADMIN_CLI = Actor.system("cli")


@contextmanager
def _engine() -> Iterator[sa.Engine]:
    url = load_settings().db_url
    require_schema(url)
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


@principals_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Unique among active principals.")],
    role: Annotated[Role, typer.Option(help="admin, responder, auditor or source.")],
    env: Annotated[
        list[Environment] | None,
        typer.Option("--env", help="Environment tier in scope (repeat); default: all tiers."),
    ] = None,
) -> None:
    """Create a principal and print its token once."""
    with _engine() as engine:
        principal, token = service.create_principal(engine, name, role, env or [], actor=ADMIN_CLI)
    scope = ",".join(sorted(e.value for e in principal.environments))
    typer.echo(f"created {principal.role.value} {principal.name!r} ({scope}); token:", err=True)
    typer.echo(token)


@principals_app.command("list")
def list_(
    include_revoked: Annotated[bool, typer.Option("--all", help="Include revoked.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts.")] = False,
) -> None:
    """Active principals (never their tokens)."""
    with _engine() as engine:
        found = service.list_principals(engine, include_revoked=include_revoked)
    if as_json:
        typer.echo(json.dumps([p.model_dump(mode="json") for p in found], indent=2))
        return
    table = Table("NAME", "ROLE", "ENVIRONMENTS", "TOKEN", "SECRETS", "CREATED", "REVOKED")
    for p in found:
        table.add_row(
            p.name,
            p.role.value,
            ",".join(e.value for e in p.environments),
            p.token_prefix + "…",
            str(p.webhook_secrets),
            p.created_at.isoformat(timespec="seconds"),
            p.revoked_at.isoformat(timespec="seconds") if p.revoked_at else "",
        )
    Console(highlight=False).print(table)


@principals_app.command("revoke")
def revoke(name: Annotated[str, typer.Argument(help="Name or id.")]) -> None:
    """Revoke a principal; its token stops working at once."""
    with _engine() as engine:
        principal = service.revoke_principal(engine, name, actor=ADMIN_CLI)
    typer.echo(f"revoked {principal.name!r}", err=True)


@principals_app.command("secret")
def secret(
    name: Annotated[str, typer.Argument(help="Source name or id.")],
    finish: Annotated[
        bool, typer.Option("--finish-rotation", help="Retire every secret but the newest.")
    ] = False,
    disable: Annotated[
        bool, typer.Option("--disable", help="Retire all secrets: stop requiring signatures.")
    ] = False,
) -> None:
    """Add a webhook signing secret (printed once); the previous one stays valid until
    `--finish-rotation`."""
    with _engine() as engine:
        if finish or disable:
            count = service.retire_webhook_secrets(engine, name, keep_newest=not disable)
            typer.echo(f"retired {count} secret(s) of {name!r}", err=True)
            return
        ring = KeyRing.load_or_create(load_settings().keyring_path)
        new = service.add_webhook_secret(engine, ring, name)
    typer.echo(f"new webhook secret for {name!r} (the previous one stays valid):", err=True)
    typer.echo(new)

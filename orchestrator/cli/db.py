"""`firebreak db`: schema migrations and retention of the configured database
(FIREBREAK_DATABASE_URL)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from orchestrator import db, retention
from orchestrator.settings import load_settings

db_app = typer.Typer(help="Database schema migrations and retention.", no_args_is_help=True)


@db_app.command("upgrade")
def upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    url = load_settings().db_url
    db.upgrade(url, revision)
    typer.echo(f"database at revision {db.current_revision(url)}")


@db_app.command("downgrade")
def downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision; 'base' drops everything.")],
) -> None:
    """Revert migrations down to REVISION."""
    url = load_settings().db_url
    db.downgrade(url, revision)
    typer.echo(f"database at revision {db.current_revision(url) or 'base'}")


@db_app.command("current")
def current() -> None:
    """Print the database's revision and the newest one this version ships."""
    url = load_settings().db_url
    typer.echo(f"current: {db.current_revision(url) or 'base'}")
    typer.echo(f"head: {db.head_revision()}")


@db_app.command("prune")
def prune(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count the dead rows; delete nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
) -> None:
    """Delete dead shared state (expired claims and sessions, effect records and webhook
    delivery ids past FIREBREAK_RETENTION_DAYS) and print how many rows went from each table.
    Workers do this on their own every FIREBREAK_PRUNE_INTERVAL_SECONDS."""
    settings = load_settings()
    db.require_schema(settings.db_url)
    engine = db.make_engine(settings.db_url)
    try:
        counts = (
            retention.count_dead(engine, settings) if dry_run else retention.prune(engine, settings)
        )
    finally:
        engine.dispose()
    if as_json:
        typer.echo(json.dumps({"dry_run": dry_run, "tables": counts}, sort_keys=True))
        return
    width = max(len(name) for name in counts)
    for name, count in counts.items():
        typer.echo(f"{name:<{width}}  {count}")
    verb = "would delete" if dry_run else "deleted"
    typer.echo(f"{verb} {sum(counts.values())} rows")

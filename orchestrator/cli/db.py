"""`firebreak db`: schema migrations for the configured database (FIREBREAK_DATABASE_URL)."""

from __future__ import annotations

from typing import Annotated

import typer

from orchestrator import db
from orchestrator.settings import load_settings

db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)


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

"""The `firebreak` command: one Typer app with a sub-command group per concern.

Errors a user can cause surface as one line on stderr and a non-zero exit code, never a
traceback; Typer's pretty exceptions are off because they print local variables (secrets).
"""

from __future__ import annotations

import sys

import typer

from orchestrator.cli.alerts import alert_app
from orchestrator.cli.api import api
from orchestrator.cli.approvals import register as register_approvals
from orchestrator.cli.audit import audit_app, keys_app
from orchestrator.cli.db import db_app
from orchestrator.cli.demo import demo
from orchestrator.cli.detect import detect_app
from orchestrator.cli.evidence import evidence_app
from orchestrator.cli.incidents import incidents_app
from orchestrator.cli.lifecycle import register as register_lifecycle
from orchestrator.cli.playbooks import playbooks_app
from orchestrator.cli.principals import principals_app
from orchestrator.cli.routes import routes_app
from orchestrator.cli.suppress import suppress_app
from orchestrator.cli.up import up
from orchestrator.cli.worker import worker
from orchestrator.errors import FirebreakError

app = typer.Typer(
    name="firebreak",
    help="Incident response for production AI and agent systems.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(db_app, name="db")
app.add_typer(audit_app, name="audit")
app.add_typer(evidence_app, name="evidence")
app.add_typer(keys_app, name="keys")
app.add_typer(playbooks_app, name="playbooks")
app.command("worker")(worker)
app.command("up")(up)
app.command("demo")(demo)
app.add_typer(incidents_app, name="incidents")
register_lifecycle(incidents_app)
register_approvals(app)
app.command("api")(api)
app.add_typer(principals_app, name="principals")
app.add_typer(alert_app, name="alert")
app.add_typer(routes_app, name="routes")
app.add_typer(suppress_app, name="suppress")
app.add_typer(detect_app, name="detect")


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except FirebreakError as exc:
        print(f"firebreak: {exc.detail}", file=sys.stderr)
        sys.exit(2 if exc.status in (500, 422) else 1)

"""The `firebreak` command: one Typer app with a sub-command group per concern.

Errors a user can cause surface as one line on stderr and a non-zero exit code, never a
traceback; Typer's pretty exceptions are off because they print local variables (secrets).
"""

from __future__ import annotations

import sys

import typer

from orchestrator.cli.lazy import Lazy, LazyGroup
from orchestrator.errors import FirebreakError


def _in(module: str, *attributes: str) -> dict[str, Lazy]:
    """`firebreak NAME` for each function `NAME` of `orchestrator.cli.MODULE`."""
    return {name: Lazy(f"orchestrator.cli.{module}", name) for name in attributes}


COMMANDS: dict[str, Lazy] = {
    **_in("worker", "worker"),
    **_in("up", "up"),
    **_in("demo", "demo"),
    # Top-level verbs, because responders type them under pressure.
    **_in("approvals", "approvals", "approve", "reject", "decide", "decision"),
    **_in("api", "api"),
    "db": Lazy("orchestrator.cli.db", "db_app"),
    "audit": Lazy("orchestrator.cli.audit", "audit_app"),
    "evidence": Lazy("orchestrator.cli.evidence", "evidence_app"),
    "keys": Lazy("orchestrator.cli.audit", "keys_app"),
    "playbooks": Lazy("orchestrator.cli.playbooks", "playbooks_app"),
    "incidents": Lazy(
        "orchestrator.cli.incidents", "incidents_app", setup="orchestrator.cli.lifecycle:register"
    ),
    "principals": Lazy("orchestrator.cli.principals", "principals_app"),
    "alert": Lazy("orchestrator.cli.alerts", "alert_app"),
    "routes": Lazy("orchestrator.cli.routes", "routes_app"),
    "suppress": Lazy("orchestrator.cli.suppress", "suppress_app"),
    "detect": Lazy("orchestrator.cli.detect", "detect_app"),
}
"""Every top-level command, in `--help`'s order, and where it lives; its module is imported
when it runs."""


class _Root(LazyGroup):
    lazy_commands = COMMANDS


app = typer.Typer(
    name="firebreak",
    cls=_Root,
    help="Incident response for production AI and agent systems.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    # A callback makes the app a group even though no command is registered on it here.
    pass


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except FirebreakError as exc:
        print(f"firebreak: {exc.detail}", file=sys.stderr)
        sys.exit(2 if exc.status in (500, 422) else 1)

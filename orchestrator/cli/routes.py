"""`firebreak routes list|show|validate|test`: the routes the API would use, and what they make
of an alert, without sending it anywhere.

The routes are those of `FIREBREAK_ROUTES_FILE` (else `routes.yaml` in
`FIREBREAK_PLAYBOOKS_DIR`), then the built-in ones; `--routes FILE` tries another file.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from orchestrator.alerts.formats import NORMALISERS
from orchestrator.alerts.models import AlertFormat
from orchestrator.cli.alerts import content_type_for
from orchestrator.errors import InvalidInput
from orchestrator.routing.models import Route, describe_conditions
from orchestrator.routing.service import RouteTable, load_table, routes_file
from orchestrator.settings import load_settings

routes_app = typer.Typer(help="Inspect, validate and try alert routes.", no_args_is_help=True)

RoutesOption = Annotated[
    Path | None,
    typer.Option("--routes", help="A routes file instead of the configured one."),
]


def _table(path: Path | None) -> RouteTable:
    return load_table(path if path is not None else routes_file(load_settings()))


@routes_app.command("list")
def list_routes(
    routes: RoutesOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Each route in full, as JSON, for scripts.")
    ] = False,
) -> None:
    """Every route in the order they are tried: id, origin, what it matches, what it sets."""
    table = _table(routes)
    if as_json:
        listed = [
            {"origin": table.origins[r.id], **r.model_dump(mode="json", exclude_defaults=True)}
            for r in table.routes
        ]
        typer.echo(json.dumps({"routes": listed, "content_hash": table.content_hash}, indent=2))
        return
    for route in table.routes:
        typer.echo(f"{route.id}\t{table.origins[route.id]}\t{_matches(route)}\t{_sets(route)}")
    typer.echo(f"{len(table.routes)} route(s), {table.content_hash}", err=True)


@routes_app.command("show")
def show(
    route_id: Annotated[str, typer.Argument(metavar="ID", help="Route id.")],
    routes: RoutesOption = None,
) -> None:
    """Print one route as validated YAML, with where it comes from and the table's hash."""
    table = _table(routes)
    route = table.get(route_id)
    typer.echo(f"# {table.origins[route.id]}, routes {table.content_hash}")
    doc = route.model_dump(mode="json", by_alias=True, exclude_defaults=True, exclude_none=True)
    typer.echo(yaml.safe_dump(_short(doc), sort_keys=False, width=100), nl=False)


@routes_app.command("validate")
def validate(
    file: Annotated[
        Path | None, typer.Argument(help="A routes file; default: the configured one.")
    ] = None,
) -> None:
    """Check a routes file: its schema, field names, regular expressions and words."""
    path = file if file is not None else routes_file(load_settings())
    table = load_table(path)
    user = sum(1 for origin in table.origins.values() if origin != "builtin")
    where = f"{user} route(s) in {path}" if path is not None else "no routes file, built-ins only"
    typer.echo(f"ok: {where} ({table.content_hash})")


@routes_app.command("test")
def test(
    file: Annotated[Path, typer.Argument(help="Alert JSON; - reads stdin.", allow_dash=True)],
    fmt: Annotated[AlertFormat, typer.Option("--format", "-f", help="Payload format.")],
    source: Annotated[
        str, typer.Option(help="The sending principal's name, as routes match `source`.")
    ] = "cli",
    header: Annotated[
        list[str] | None,
        typer.Option("--header", "-H", help="NAME:VALUE request header (CloudEvents binary)."),
    ] = None,
    routes: RoutesOption = None,
) -> None:
    """Show which route each alert of FILE takes and the alert it becomes; nothing is sent."""
    try:
        body = typer.get_binary_stream("stdin").read() if str(file) == "-" else file.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {file}: {exc.strerror}", "FILE") from None
    headers = {"content-type": content_type_for(fmt, body)} | _headers(header or [])
    table = _table(routes)
    parsed = NORMALISERS[fmt](body, headers, source, datetime.now(UTC))
    shown: list[dict[str, Any]] = []
    for item in parsed:
        if item.inherit_from is not None:
            shown.append({"alert_id": item.alert.id, "follows": item.inherit_from})
            continue
        routed = table.route(fmt.value, item)
        alert = routed.alert
        shown.append(
            {
                "alert_id": alert.id,
                "route": routed.route.id,
                "origin": table.origins[routed.route.id],
                "type": alert.type,
                "severity": alert.severity.value,
                "environment": alert.environment.value,
                "resources": alert.resources.model_dump(exclude_none=True),
                "fingerprint": alert.fingerprint,
                "correlation_key": alert.correlation_key,
                "workflow_id": alert.workflow_id,
                "entity_correlation": (
                    alert.correlation.model_dump(mode="json") if alert.correlation else None
                ),
            }
        )
    typer.echo(json.dumps({"routes": table.content_hash, "alerts": shown}, indent=2))


SHORTHANDS = ("field", "equals", "value")
"""`{field: F}`, `{equals: V}` and `{value: V}` print as the shorthand a routes file may use."""


def _short(doc: Any) -> Any:
    if isinstance(doc, dict):
        if len(doc) == 1 and next(iter(doc)) in SHORTHANDS:
            return next(iter(doc.values()))
        return {k: _short(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_short(v) for v in doc]
    return doc


def _headers(values: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for value in values:
        name, sep, text = value.partition(":")
        if not sep or not name.strip():
            raise InvalidInput(f"--header {value[:60]!r}: expected NAME:VALUE", "header")
        found[name.strip().lower()] = text.strip()
    return found


def _matches(route: Route) -> str:
    return describe_conditions(route.match)


def _sets(route: Route) -> str:
    parts = []
    for name in ("type", "severity", "environment"):
        take = getattr(route, name)
        if take is not None and take.value is not None:
            parts.append(f"{name}={take.value}")
        elif take is not None and take.from_:
            parts.append(f"{name}=<{take.from_[0].field}>")
    if route.resources:
        parts.append("resources=" + "+".join(route.resources))
    if route.fingerprint:
        parts.append("fingerprint=" + "+".join(route.fingerprint))
    if route.correlation:
        c = route.correlation
        parts.append(f"correlate={'+'.join(c.entities)}/{c.window_seconds}s")
    return ",".join(parts) or "-"

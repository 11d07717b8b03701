"""`firebreak suppress create|list|end`: suppression windows over HTTP, one line each.

`--match` takes a route's conditions in their one-line form (`FIELD=VALUE`, `FIELD=~REGEX`,
`FIELD` present, `!FIELD` absent; `orchestrator.routing.models.parse_condition`), so what
`firebreak routes list` prints can be pasted here. `--until` is an ISO time with a zone or a
duration (`2h`); the API judges both against its own clock. Window text is printed as data
(`incidents.plain`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer
from pydantic import TypeAdapter, ValidationError

from orchestrator.cli.client import api_request
from orchestrator.cli.incidents import JsonFlag, plain, print_json
from orchestrator.domain import Environment
from orchestrator.errors import InvalidInput
from orchestrator.routing.models import Conditions, describe_conditions, parse_condition
from orchestrator.suppression.models import parse_duration

suppress_app = typer.Typer(
    help="Hold matching alerts for a while (maintenance, known noise).", no_args_is_help=True
)
CONDITIONS: TypeAdapter[Conditions] = TypeAdapter(Conditions)


def conditions(texts: list[str]) -> dict[str, Any]:
    """`--match` values as the API's `match`; a bad one is one InvalidInput line."""
    match: dict[str, Any] = {}
    for text in texts:
        name, condition = parse_condition(text)
        if not name:
            raise InvalidInput(f"--match {text[:60]!r}: expected FIELD=VALUE", "match")
        match[name] = condition
    try:
        CONDITIONS.validate_python(match)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"] if p != "[key]")
        msg = str(err["msg"]).removeprefix("Value error, ")
        raise InvalidInput(f"--match {where}: {msg}", "match") from None
    return match


def moment(text: str, option: str, expected: str = "an ISO time") -> str:
    """An ISO 8601 time with a zone, as the API takes it; naive times are refused, as the
    API's clock and the caller's zone may differ."""
    try:
        found = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(
            f"--{option} {text[:40]!r}: expected {expected} such as 2026-12-01T18:00Z", option
        ) from None
    if found.tzinfo is None:
        raise InvalidInput(f"--{option} {text[:40]!r}: give a time zone (Z or +02:00)", option)
    return found.isoformat()


def expiry(text: str) -> dict[str, str]:
    """`--until` as the API's `duration` or `expires_at`."""
    try:
        parse_duration(text)
    except ValueError:
        expected = "a duration (30m, 2h, 1d12h) or an ISO time"
        return {"expires_at": moment(text, "until", expected)}
    return {"duration": text.strip()}


def line(window: dict[str, Any]) -> str:
    match = describe_conditions(CONDITIONS.validate_python(window["match"]))
    envs = ",".join(window["environments"])
    return "\t".join(
        plain(v)
        for v in (
            window["id"],
            window["state"],
            envs,
            f"until {window['expires_at']}",
            match,
            window["reason"],
        )
    )


@suppress_app.command("create")
def create(
    match: Annotated[
        list[str],
        typer.Option(
            "--match", help="FIELD=VALUE, FIELD=~REGEX, FIELD (present) or !FIELD (repeat)."
        ),
    ],
    until: Annotated[str, typer.Option(help="A duration (2h, 90m) or an ISO time with zone.")],
    reason: Annotated[str, typer.Option(help="Why these alerts may be held (recorded).")],
    env: Annotated[
        list[Environment] | None,
        typer.Option("--env", help="Environment tier (repeat); default: your scope."),
    ] = None,
    starts: Annotated[
        str | None, typer.Option("--starts", help="ISO time with zone; default: now.")
    ] = None,
) -> None:
    """Create a window; prints its id and when it expires."""
    body: dict[str, Any] = {"match": conditions(match), "reason": reason, **expiry(until)}
    if env:
        body["environments"] = [e.value for e in env]
    if starts is not None:
        body["starts_at"] = moment(starts, "starts")
    window = api_request("POST", "/v1/suppressions", json=body)
    typer.echo(line(window))


@suppress_app.command("list")
def list_(
    include_past: Annotated[
        bool, typer.Option("--all", help="Also ended and expired windows.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Active and scheduled windows you may see, one per line."""
    found = api_request(
        "GET", "/v1/suppressions", params={"state": "all" if include_past else "current"}
    )
    if as_json:
        print_json(found)
        return
    for window in found["items"]:
        typer.echo(line(window))


@suppress_app.command("end")
def end(
    window_id: Annotated[str, typer.Argument(metavar="ID", help="The window's id.")],
    reason: Annotated[str, typer.Option(help="Why it ends early (recorded).")] = "",
) -> None:
    """End a window now: matching alerts open incidents again."""
    if not window_id.isalnum():
        raise InvalidInput(f"{window_id[:40]!r} is not a window id", "id")
    window = api_request("POST", f"/v1/suppressions/{window_id}/end", json={"reason": reason})
    typer.echo(line(window))

"""Incident ids as people type and read them.

A full id (`incident-<20 hex>.<run uuid>`) is long enough that an 80-column table used to cut
it to `incid…`, leaving nothing to paste into the next command. So, as git does with commits:
tables print a short form (the hex after `incident-`, 12 digits, longer where two listed ids
share them), and every command that takes an incident id also takes any unique prefix of it,
with or without `incident-`. A prefix that matches several incidents is refused with the
matches listed, never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Annotated

import typer

from orchestrator.cli.client import api_request
from orchestrator.errors import InvalidInput, NotFound

PREFIX = "incident-"
SHORT = 12
"""Digits a short id has at least: 48 bits, unique among millions of incidents in practice."""
MATCHES_SHOWN = 5
IncidentArg = Annotated[
    str,
    typer.Argument(
        metavar="INCIDENT",
        help="Incident id, or any unique prefix of it (with or without `incident-`), as tables "
        "print it.",
    ),
]
FULL_ID = re.compile(r"^incident-[0-9a-f]+\.[0-9a-f-]{36}$")
TYPED = re.compile(r"^[A-Za-z0-9._-]{1,200}$")


def resolve_incident(value: str) -> str:
    """The full id of the one incident (that the caller may see) whose id starts with
    `value`; InvalidInput (exit 2) when none or several do, naming them."""
    if FULL_ID.match(value):
        return value
    if not TYPED.match(value):
        raise InvalidInput(f"not an incident id or prefix: {value!r}", field="incident")
    prefix = value if value.startswith(PREFIX) else PREFIX + value
    page = api_request(
        "GET", "/v1/incidents", params={"id_prefix": prefix, "limit": MATCHES_SHOWN + 1}
    )
    found = [str(item["id"]) for item in page["items"]]
    if not found:
        raise NotFound(f"no incident matches {value!r} (see `firebreak incidents list`)")
    if len(found) > 1:
        shown = ", ".join(found[:MATCHES_SHOWN]) + (" …" if len(found) > MATCHES_SHOWN else "")
        raise InvalidInput(
            f"{value!r} matches several incidents: {shown}; type more of the id", field="incident"
        )
    return found[0]


def short_ids(ids: Iterable[str]) -> dict[str, str]:
    """Each id's short form: `SHORT` characters after `incident-`, extended until no two of
    `ids` share one (so each resolves back to its own incident among those listed)."""
    bodies = {full: full.removeprefix(PREFIX) for full in ids}
    shorts: dict[str, str] = {}
    for full, body in bodies.items():
        length = SHORT
        while length < len(body) and any(
            other != full and other_body.startswith(body[:length])
            for other, other_body in bodies.items()
        ):
            length += 1
        shorts[full] = body[:length]
    return shorts

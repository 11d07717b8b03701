"""`firebreak alert send FILE --format F`: post an alert file to the API, as a detector would.

With `--source-secret` (or FIREBREAK_SOURCE_SECRET) the delivery is signed the Standard
Webhooks way, so a signed source's setup can be tested end to end from a shell.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Annotated

import typer

from orchestrator.alerts.models import AlertFormat
from orchestrator.alerts.signatures import sign
from orchestrator.cli.client import api_request
from orchestrator.errors import InvalidInput

alert_app = typer.Typer(help="Send alerts to the API.", no_args_is_help=True)


def content_type_for(fmt: AlertFormat, body: bytes) -> str:
    if fmt is not AlertFormat.cloudevents:
        return "application/json"
    # The formats package imports every format and its routes: seconds the other commands of
    # the CLI need not pay (see `api`).
    from orchestrator.alerts.formats.cloudevents import BATCH, STRUCTURED

    return BATCH if body.lstrip().startswith(b"[") else STRUCTURED


@alert_app.command("send")
def send(
    file: Annotated[Path, typer.Argument(help="JSON payload; - reads stdin.", allow_dash=True)],
    fmt: Annotated[AlertFormat, typer.Option("--format", "-f", help="Payload format.")],
    source_secret: Annotated[
        str | None,
        typer.Option(envvar="FIREBREAK_SOURCE_SECRET", help="whsec_... to sign the delivery."),
    ] = None,
    webhook_id: Annotated[
        str | None, typer.Option(help="Delivery id; default: a new one (signed sends only).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's JSON.")] = False,
) -> None:
    """Send FILE to POST /v1/alerts/FORMAT and print the incident ids."""
    try:
        body = typer.get_binary_stream("stdin").read() if str(file) == "-" else file.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read {file}: {exc.strerror}", "FILE") from None
    headers = {"content-type": content_type_for(fmt, body)}
    if webhook_id is not None:
        headers["webhook-id"] = webhook_id
    if source_secret is not None:
        from orchestrator.principals.service import decode_secret  # imports the stores

        msg_id = webhook_id or f"msg_{uuid.uuid4().hex}"
        timestamp = int(time.time())
        headers |= {
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(decode_secret(source_secret), msg_id, timestamp, body),
        }
    result = api_request("POST", f"/v1/alerts/{fmt.value}", content=body, headers=headers)
    if as_json:
        typer.echo(json.dumps(result, indent=2, sort_keys=True))
        return
    for incident_id in result["incidents"]:
        typer.echo(incident_id)
    duplicates = sum(1 for a in result["alerts"] if a["duplicate"])
    typer.echo(
        f"{len(result['alerts'])} alert(s) accepted, {duplicates} already known,"
        f" {len(result['incidents'])} incident(s)",
        err=True,
    )

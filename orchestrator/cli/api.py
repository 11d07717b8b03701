"""`firebreak api`: serve the HTTP API with uvicorn on FIREBREAK_API_HOST:FIREBREAK_API_PORT."""

from __future__ import annotations

from typing import Annotated

import typer


def api(
    host: Annotated[str | None, typer.Option(help="Default: FIREBREAK_API_HOST.")] = None,
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="Default: FIREBREAK_API_PORT.")
    ] = None,
) -> None:
    """Serve webhooks, incidents, approvals and audit queries until SIGINT/SIGTERM, then finish
    requests in flight (up to FIREBREAK_API_SHUTDOWN_SECONDS) and exit 0."""
    # Imported here: the app, its routers and providers take seconds to import, and every
    # other command of the CLI (a responder's `decide` during an incident) would pay for them.
    from activities.factory import build_evidence_reader
    from orchestrator.api.app import create_app
    from orchestrator.api.serving import StoppingServer, server_config
    from orchestrator.db import require_schema
    from orchestrator.settings import load_settings
    from orchestrator.telemetry import tracing

    overrides = {k: v for k, v in (("api_host", host), ("api_port", port)) if v is not None}
    settings = load_settings(**overrides)
    require_schema(settings.db_url)
    with tracing("firebreak-api"):
        app = create_app(settings, evidence=build_evidence_reader(settings))
        typer.echo(f"API on http://{settings.api_host}:{settings.api_port}", err=True)
        StoppingServer(server_config(app, settings, log_level="info")).run()
    typer.echo("API stopped", err=True)

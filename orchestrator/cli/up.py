"""`firebreak up`: the whole stack in one process tree, from an empty directory, in one command.

Flags override the matching `FIREBREAK_*` variables. Setting `--temporal-address` (or the
variable) uses that Temporal instead of the embedded dev server; `--database-url` likewise for
the event store. Nothing else changes between the embedded and the distributed setup.
"""

from __future__ import annotations

import asyncio
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from sqlalchemy.engine import make_url

from orchestrator.errors import FirebreakError
from orchestrator.runtime.command import firebreak_command
from orchestrator.settings import Settings, load_settings

if TYPE_CHECKING:
    from orchestrator.runtime.prepare import Prepared
    from orchestrator.runtime.stack import Running

console = Console(highlight=False, soft_wrap=True)


def up(
    data_dir: Annotated[
        Path | None, typer.Option(help="State directory (env FIREBREAK_DATA_DIR)")
    ] = None,
    api_host: Annotated[str | None, typer.Option(help="(env FIREBREAK_API_HOST)")] = None,
    api_port: Annotated[int | None, typer.Option(help="(env FIREBREAK_API_PORT)")] = None,
    temporal_port: Annotated[
        int | None, typer.Option(help="Embedded Temporal gRPC port (env FIREBREAK_TEMPORAL_PORT)")
    ] = None,
    temporal_ui_port: Annotated[
        int | None, typer.Option(help="Embedded Temporal UI port (env FIREBREAK_TEMPORAL_UI_PORT)")
    ] = None,
    temporal_address: Annotated[
        str | None,
        typer.Option(
            help="Use this Temporal instead of embedding one (env FIREBREAK_TEMPORAL_ADDRESS)"
        ),
    ] = None,
    database_url: Annotated[
        str | None, typer.Option(help="Event store URL (env FIREBREAK_DATABASE_URL)")
    ] = None,
    demo: Annotated[bool, typer.Option("--demo", help="Run `firebreak demo` once ready.")] = False,
    exit_after_demo: Annotated[
        bool, typer.Option("--exit-after-demo", help="Run the demo, then stop (for CI).")
    ] = False,
    init_only: Annotated[
        bool,
        typer.Option(
            "--init-only", help="Migrate, create keys and the admin principal, then exit."
        ),
    ] = False,
) -> None:
    """Run Firebreak: Temporal dev server, migrations, worker and API. Ctrl-C stops everything."""
    flags = {
        "data_dir": data_dir,
        "api_host": api_host,
        "api_port": api_port,
        "temporal_port": temporal_port,
        "temporal_ui_port": temporal_ui_port,
        "temporal_address": temporal_address,
        "database_url": database_url,
    }
    overrides: dict[str, Any] = {k: v for k, v in flags.items() if v is not None}
    try:
        _up(
            overrides,
            demo=demo or exit_after_demo,
            exit_after_demo=exit_after_demo,
            init_only=init_only,
        )
    except KeyboardInterrupt:  # Ctrl-C before serving started: nothing is running yet
        console.print("interrupted", markup=False)
        raise typer.Exit(130) from None


def _up(overrides: dict[str, Any], *, demo: bool, exit_after_demo: bool, init_only: bool) -> None:
    # Imported here: the stack (API, worker, demo) takes seconds to import, which every other
    # command of the CLI (a responder's `decide` during an incident) would pay for.
    from orchestrator.demo.runner import DemoOptions, run_demo
    from orchestrator.runtime import loop
    from orchestrator.runtime.prepare import prepare
    from orchestrator.runtime.stack import embedded_temporal, preflight, serve
    from orchestrator.telemetry import tracing

    settings = load_settings(**overrides)
    devserver = embedded_temporal(settings)
    if devserver is not None:
        overrides["temporal_address"] = devserver.address
    if "api_url" not in settings.model_fields_set:
        overrides["api_url"] = f"http://{settings.api_host}:{settings.api_port}"
    settings = load_settings(**overrides)
    if not init_only:
        preflight(settings, devserver)
    prepared = prepare(settings)
    _print_prepared(settings, prepared)
    if init_only:
        return

    async def run_demo_once() -> None:
        try:
            await run_demo(DemoOptions(settings=settings), console)
        except FirebreakError as exc:
            if exit_after_demo:
                raise
            console.print(f"demo failed: {exc.detail}; still serving", markup=False)
        if not exit_after_demo:
            token_file = shlex.quote(str(prepared.admin_token_file))
            console.print(
                f"Still serving. Look around: FIREBREAK_API_URL={settings.api_url} "
                f'FIREBREAK_TOKEN="$(cat {token_file})" {firebreak_command()} incidents list'
                "\nPress Ctrl-C to stop.",
                markup=False,
            )
            await asyncio.Event().wait()

    with tracing("firebreak"):
        until = run_demo_once if demo else None
        loop.run(serve(settings, devserver, on_ready=_announce, until=until))
    console.print("Firebreak stopped.", markup=False)


def _print_prepared(settings: Settings, prepared: Prepared) -> None:
    store = make_url(settings.db_url).render_as_string(hide_password=True)
    console.print(f"data dir     {prepared.data_dir}", markup=False)
    console.print(f"keys         {settings.keyring_path.resolve().parent}", markup=False)
    console.print(f"event store  {store}", markup=False)
    if prepared.admin_token:
        console.print(
            f"admin token  {prepared.admin_token}\n"
            f"             shown once; saved to {prepared.admin_token_file} (mode 0600)",
            markup=False,
        )
    elif prepared.admin_token_file.exists():
        console.print(f"admin token  in {prepared.admin_token_file}", markup=False)
    else:
        console.print("admin token  an admin exists already; use its token", markup=False)


async def _announce(running: Running) -> None:
    console.print(f"temporal     {running.temporal_address}", markup=False)
    if running.temporal_ui_url:
        console.print(f"temporal UI  {running.temporal_ui_url}", markup=False)
    console.print(
        f"API          {running.api_url}  (OpenAPI: {running.api_url}/docs)", markup=False
    )
    console.print(
        f"console      {running.api_url}/console  (sign in with the admin token)", markup=False
    )
    console.print("Firebreak is up. Press Ctrl-C to stop.", markup=False)

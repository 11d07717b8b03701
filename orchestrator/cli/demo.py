"""`firebreak demo`: show Firebreak handling four realistic AI incidents against a running API.

It needs the same data dir and database as the `firebreak up` it talks to (the lab's files and
the demo principals live there), which the shared `FIREBREAK_*` variables or defaults give.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from orchestrator.demo.runner import DemoOptions, run_demo
from orchestrator.settings import load_settings


def demo(
    interactive: Annotated[
        bool, typer.Option("--interactive", help="Print the approve commands and wait for you.")
    ] = False,
    api_url: Annotated[str | None, typer.Option(help="(env FIREBREAK_API_URL)")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="(env FIREBREAK_DATA_DIR)")] = None,
    timeout: Annotated[
        float, typer.Option(min=10, help="Seconds all incidents get to finish recovery.")
    ] = 300.0,
) -> None:
    """Show four AI incidents handled end to end against a running `firebreak up`.

    A model-extraction burst, a data-poisoning alert on prod (approved by the demo responders),
    an automatic prompt-injection response, and a gateway sweep that Firebreak's own extraction
    detector catches; then a summary and `audit verify`. Exits
    non-zero if any expected outcome did not happen.
    """
    flags = {"api_url": api_url, "data_dir": data_dir}
    overrides: dict[str, Any] = {k: v for k, v in flags.items() if v is not None}
    options = DemoOptions(
        load_settings(**overrides), interactive=interactive, timeout_seconds=timeout
    )
    asyncio.run(run_demo(options, Console(highlight=False, soft_wrap=True)))

"""`firebreak detect run|baselines`: behavioural detection over AI telemetry.

`run` reads telemetry (an OTLP/HTTP receiver, LiteLLM spend logs, mapped JSON Lines), keeps
baselines per caller, key and model in the database, and raises what it detects as signed
alerts through the API (FIREBREAK_API_URL, as the source of FIREBREAK_DETECT_TOKEN), or only
logs them with `--dry-run`. `baselines` lists what has been learned. docs/detection.md has the
detectors, their parameters and the input mappings.

Exit codes: 0 done (inputs read, or stopped by SIGINT/SIGTERM), 2 a configuration mistake (an
input spec, a parameter, a missing token, a token the API refuses).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from orchestrator import db
from orchestrator.cli.incidents import console, new_table, plain, print_json, row, short_time
from orchestrator.detection.config import load_config
from orchestrator.detection.engine import DETECTOR_NAMES, DetectionEngine
from orchestrator.detection.service import run_detection
from orchestrator.detection.store import BaselineStore
from orchestrator.errors import ConfigError
from orchestrator.runtime import loop
from orchestrator.settings import load_settings

detect_app = typer.Typer(
    help="Detect extraction, leaked keys, injection campaigns and drift in AI telemetry.",
    no_args_is_help=True,
)


@detect_app.command("run")
def run(
    input_: Annotated[
        list[str],
        typer.Option(
            "--input",
            "-i",
            help="otlp://HOST:PORT (an OTLP/HTTP receiver), litellm:FILE (LiteLLM spend"
            " logs) or jsonl:FILE (JSON Lines, mapped by the config's `jsonl:` section);"
            " FILE - is stdin. Repeatable.",
        ),
    ],
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep reading files as they grow (tail -F).")
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Log each alert that would be raised; post nothing."),
    ] = False,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="Detector parameters (default: FIREBREAK_DETECT_CONFIG)."),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log every detection.")] = False,
) -> None:
    """Read AI telemetry, learn baselines per caller, key and model, and raise alerts through
    the API as a signed source (or log them with --dry-run). Files end the run when read;
    a receiver or --follow runs until SIGINT/SIGTERM. Baselines are saved every
    FIREBREAK_DETECT_SAVE_SECONDS and on stop."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(message)s")
    stats = loop.run(
        run_detection(
            load_settings(),
            input_,
            config_path=config,
            follow=follow,
            dry_run=dry_run,
            announce=_announce,
        )
    )
    counts = ", ".join(f"{name} {n}" for name, n in sorted(stats.by_detector.items()))
    typer.echo(
        f"detect: {stats.events:,} events, {stats.detections} detections"
        f"{f' ({counts})' if counts else ''}, {stats.unreadable} unreadable lines, "
        f"{stats.saved} baselines saved, {stats.subjects:,} subjects in memory "
        f"({stats.evicted:,} idle ones evicted, {stats.reloaded:,} baselines reloaded)"
        f"{f', {stats.undelivered} alerts NOT delivered' if stats.undelivered else ''}",
        err=True,
    )
    if stats.undelivered:
        raise typer.Exit(1)


@detect_app.command("baselines")
def baselines(
    detector: Annotated[
        str | None,
        typer.Option("--detector", help=f"Only this detector ({', '.join(DETECTOR_NAMES)})."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Each baseline in full, as JSON, for scripts.")
    ] = False,
    config: Annotated[
        Path | None, typer.Option("--config", help="Detector parameters, for the summaries.")
    ] = None,
) -> None:
    """What the detectors have learned, per detector and subject (caller, key or model)."""
    if detector is not None and detector not in DETECTOR_NAMES:
        raise ConfigError(f"--detector {detector!r}: one of {', '.join(DETECTOR_NAMES)}")
    settings = load_settings()
    db.require_schema(settings.db_url)
    engine = db.make_engine(settings.db_url)
    try:
        rows = BaselineStore(engine).rows(detector)
    finally:
        engine.dispose()
    if as_json:
        print_json({"baselines": rows})
        return
    summaries = DetectionEngine(load_config(config or settings.detect_config))
    table = new_table("detector", "subject", "updated", "baseline")
    for item in rows:
        state = item["state"]
        summary = summaries.describe(
            str(item["detector"]), state if isinstance(state, dict) else {}
        )
        table.add_row(
            *row(item["detector"], item["subject"], short_time(str(item["updated_at"]))),
            plain(summary),
        )
    console().print(table)
    typer.echo(f"{len(rows)} baseline(s)", err=True)


def _announce(line: str) -> None:
    typer.echo(line, err=True)

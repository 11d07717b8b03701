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

import asyncio
import logging
import signal
from pathlib import Path
from typing import Annotated

import typer

from orchestrator import db
from orchestrator.cli.incidents import console, new_table, plain, print_json, row, short_time
from orchestrator.detection.alerts import AlertSender, DryRunSender, Sender
from orchestrator.detection.config import load_config
from orchestrator.detection.engine import DETECTOR_NAMES, DetectionEngine
from orchestrator.detection.inputs.sources import parse_input
from orchestrator.detection.runner import DetectRunner, RunStats
from orchestrator.detection.store import BaselineStore
from orchestrator.errors import ConfigError
from orchestrator.runtime import loop
from orchestrator.settings import Settings, load_settings

detect_app = typer.Typer(
    help="Detect extraction, leaked keys, injection campaigns and drift in AI telemetry.",
    no_args_is_help=True,
)


def sender_for(settings: Settings, dry_run: bool) -> Sender:
    """Where detections go: the API as the detector's source, or the log under `--dry-run`."""
    environment = settings.detect_environment.value
    if dry_run:
        return DryRunSender(environment)
    if settings.detect_token is None:
        raise ConfigError(
            "set FIREBREAK_DETECT_TOKEN to a source principal's token (and "
            "FIREBREAK_DETECT_WEBHOOK_SECRET if it signs), or use --dry-run"
        )
    secret = settings.detect_webhook_secret
    return AlertSender(
        settings.api_url,
        settings.detect_token.get_secret_value(),
        secret.get_secret_value() if secret is not None else None,
        environment,
    )


async def run_detection(
    settings: Settings,
    inputs: list[str],
    *,
    config_path: Path | None,
    follow: bool,
    dry_run: bool,
) -> RunStats:
    """Everything `detect run` does, until the inputs end or SIGINT/SIGTERM."""
    specs = [parse_input(spec) for spec in inputs]
    config = load_config(config_path or settings.detect_config)
    sender = sender_for(settings, dry_run)
    db.require_schema(settings.db_url)
    store = BaselineStore(db.make_engine(settings.db_url))
    enabled = DetectionEngine(config).detectors
    baselines = await asyncio.to_thread(lambda: list(store.load([d.name for d in enabled])))
    engine = DetectionEngine(config, baselines)
    typer.echo(
        f"detect: {', '.join(d.name for d in engine.detectors)}; {len(baselines)} baselines "
        f"loaded{'; dry run: nothing is posted' if dry_run else ''}",
        err=True,
    )
    runner = DetectRunner(engine, sender, store, save_every=settings.detect_save_seconds)
    stop = asyncio.Event()
    running = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        running.add_signal_handler(sig, stop.set)
    otlp = settings.detect_otlp_token
    try:
        return await runner.run(
            specs,
            config.jsonl,
            follow=follow,
            stop=stop,
            otlp_token=otlp.get_secret_value() if otlp is not None else None,
        )
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            running.remove_signal_handler(sig)
        store.engine.dispose()


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
        run_detection(load_settings(), input_, config_path=config, follow=follow, dry_run=dry_run)
    )
    counts = ", ".join(f"{name} {n}" for name, n in sorted(stats.by_detector.items()))
    typer.echo(
        f"detect: {stats.events:,} events, {stats.detections} detections"
        f"{f' ({counts})' if counts else ''}, {stats.unreadable} unreadable lines, "
        f"{stats.saved} baselines saved"
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

"""One detection run as `firebreak detect run` and `firebreak worker --detect` start it: the
settings' sender, the stored baselines, the runner, until the inputs end or `stop` is set.

Nothing is loaded at start: the engine evicts idle subjects, and the runner takes a subject's
baseline from the store when its events arrive, so a run's memory is the subjects in use, not
every subject the store has ever held."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

from orchestrator import db
from orchestrator.detection.alerts import AlertSender, DryRunSender, Sender
from orchestrator.detection.config import load_config
from orchestrator.detection.engine import DetectionEngine
from orchestrator.detection.inputs.sources import parse_input
from orchestrator.detection.runner import DetectRunner, RunStats
from orchestrator.detection.store import BaselineStore
from orchestrator.errors import ConfigError
from orchestrator.settings import Settings


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


@contextlib.contextmanager
def _stopped_by_signals(stop: asyncio.Event) -> Iterator[None]:
    running = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        running.add_signal_handler(sig, stop.set)
    try:
        yield
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError):
                running.remove_signal_handler(sig)


async def run_detection(
    settings: Settings,
    inputs: list[str],
    *,
    config_path: Path | None = None,
    follow: bool = False,
    dry_run: bool = False,
    stop: asyncio.Event | None = None,
    announce: Callable[[str], None] = print,
) -> RunStats:
    """Run detection over `inputs` until they end or `stop` is set (SIGINT/SIGTERM set it
    when no `stop` is given)."""
    if not inputs:
        raise ConfigError("no input: give --input (or FIREBREAK_DETECT_INPUTS for the worker)")
    specs = [parse_input(spec) for spec in inputs]
    config = load_config(config_path or settings.detect_config)
    sender = sender_for(settings, dry_run)
    db.require_schema(settings.db_url)
    store = BaselineStore(db.make_engine(settings.db_url))
    engine = DetectionEngine(config, evict=True)
    names = [d.name for d in engine.detectors]
    stored = await asyncio.to_thread(store.count, names)
    announce(
        f"detect: {', '.join(names)}; {stored} baselines stored, each loaded when its subject"
        " appears"
        f"{'; dry run: nothing is posted' if dry_run else ''}"
    )
    runner = DetectRunner(engine, sender, store, save_every=settings.detect_save_seconds)
    otlp = settings.detect_otlp_token
    own_stop = stop is None
    stop = stop or asyncio.Event()
    try:
        with _stopped_by_signals(stop) if own_stop else contextlib.nullcontext():
            return await runner.run(
                specs,
                config.jsonl,
                follow=follow,
                stop=stop,
                otlp_token=otlp.get_secret_value() if otlp is not None else None,
            )
    finally:
        store.engine.dispose()

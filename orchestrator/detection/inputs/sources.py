"""Where telemetry comes from: `--input` specs, and reading files, stdin or a growing file.

`otlp://HOST:PORT` listens for OTLP/HTTP; `litellm:PATH` and `jsonl:PATH` read spend-log rows or
mapped JSON Lines from a file (`-` is stdin). With `--follow` a file is read to its end and then
followed as it grows, like `tail -F`: a file that is truncated or replaced (log rotation) is
read again from its start. Lines that are not valid records are counted and logged with their
line number, never fatal: one bad line in a day of logs must not stop detection.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

from orchestrator.detection.inputs.jsonl import JsonlMapping, jsonl_event
from orchestrator.detection.inputs.litellm import spend_log_event
from orchestrator.detection.models import TelemetryEvent
from orchestrator.errors import ConfigError, FirebreakError

log = logging.getLogger(__name__)

Kind = Literal["otlp", "litellm", "jsonl"]
READ_BYTES = 1 << 20
POLL_SECONDS = 0.25
LOGGED_ERRORS = 5


@dataclass(frozen=True)
class InputSpec:
    kind: Kind
    target: str
    """host:port for otlp, a path or `-` for the others."""


def parse_input(spec: str) -> InputSpec:
    """`otlp://127.0.0.1:4318`, `litellm:FILE`, `jsonl:FILE` (FILE `-` is stdin)."""
    if spec.startswith("otlp://"):
        target = spec.removeprefix("otlp://").rstrip("/")
        host, _, port = target.rpartition(":")
        if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ConfigError(f"--input {spec}: otlp://HOST:PORT, e.g. otlp://127.0.0.1:4318")
        return InputSpec("otlp", target)
    kind, sep, target = spec.partition(":")
    if not sep or kind not in ("litellm", "jsonl") or not target:
        raise ConfigError(
            f"--input {spec}: one of otlp://HOST:PORT, litellm:FILE, jsonl:FILE (FILE - is stdin)"
        )
    if target != "-" and not Path(target).is_file():
        raise ConfigError(f"--input {spec}: no such file: {target}")
    return InputSpec(kind, target)  # type: ignore[arg-type]


def decoder(kind: Kind, mapping: JsonlMapping) -> Callable[[Any], TelemetryEvent]:
    """The function that turns one parsed record of `kind` into an event."""
    if kind == "litellm":
        return spend_log_event
    return lambda record: jsonl_event(record, mapping)


class Parser:
    """Lines to events, keeping count of what could not be read."""

    def __init__(self, spec: InputSpec, mapping: JsonlMapping) -> None:
        self.spec = spec
        self.decode = decoder(spec.kind, mapping)
        self.line = 0
        self.errors = 0

    def events(self, lines: list[str]) -> list[TelemetryEvent]:
        events: list[TelemetryEvent] = []
        for text in lines:
            self.line += 1
            text = text.strip()
            if not text:
                continue
            try:
                record = json.loads(text)
                rows = record if isinstance(record, list) else [record]
                events.extend(self.decode(row) for row in rows)
            except (ValueError, FirebreakError) as exc:
                self.errors += 1
                if self.errors <= LOGGED_ERRORS:
                    log.warning("%s line %d skipped: %s", self.spec.target, self.line, exc)
                elif self.errors == LOGGED_ERRORS + 1:
                    log.warning("%s: further unreadable lines are counted only", self.spec.target)
        return events


async def read_lines(target: str, follow: bool) -> AsyncIterator[list[str]]:
    """Batches of complete lines from a file or stdin; with `follow`, forever."""
    if target == "-":
        async for batch in _stdin():
            yield batch
        return
    path = Path(target)
    handle = _open(path)
    identity = os.fstat(handle.fileno()).st_ino
    partial = ""
    try:
        while True:
            chunk = handle.read(READ_BYTES)
            if chunk:
                text = partial + chunk
                lines = text.split("\n")
                partial = lines.pop()
                if lines:
                    yield lines
                continue
            if not follow:
                if partial:
                    yield [partial]
                return
            if _replaced(path, identity, handle.tell()):
                handle.close()
                handle = _open(path)
                identity = os.fstat(handle.fileno()).st_ino
                partial = ""
                continue
            await asyncio.sleep(POLL_SECONDS)
    finally:
        handle.close()


def _open(path: Path) -> IO[str]:
    """Local log files open at once; reading them is what is batched."""
    return path.open("r", encoding="utf-8", errors="replace")


def _replaced(path: Path, identity: int, position: int) -> bool:
    """A followed file that was rotated away or truncated below where we read."""
    try:
        now = path.stat()
    except FileNotFoundError:
        return False
    return now.st_ino != identity or now.st_size < position


async def _stdin() -> AsyncIterator[list[str]]:
    stream: IO[str] = sys.stdin
    while True:
        lines = await asyncio.to_thread(stream.readlines, READ_BYTES)
        if not lines:
            return
        yield lines

"""Witnesses: where signed checkpoint notes are published, outside the database.

An insider who can rewrite the database can also delete its checkpoints; a copy elsewhere is
what `firebreak audit verify --checkpoint` checks the database against. `FIREBREAK_WITNESSES`
lists them:

- ``file:///dir``: writes ``dir/checkpoints/<tree size>`` and ``dir/checkpoint`` (the latest),
  each atomically (temporary file, then rename); ``checkpoint`` never moves back to a smaller
  tree;
- ``s3://bucket/prefix``: PUTs ``<prefix>checkpoints/<size>`` and ``<prefix>checkpoint`` on
  the evidence store's S3 endpoint with its credentials (`FIREBREAK_S3_*`);
- ``http://…`` / ``https://…``: POSTs the note, ``Content-Type: text/plain``; any 2xx is
  accepted.

Publishing never holds up appends and never loses a checkpoint: it is stored first, and a
witness that fails is logged (by its name, credentials stripped) and retried with the
activity, which re-publishes the latest note.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Protocol
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.providers.http_support import call
from activities.providers.s3_datasets import S3Config, signed_client
from orchestrator.audit import Checkpoint, EventStore
from orchestrator.errors import ConfigError, FirebreakError
from orchestrator.settings import Settings
from workflows.contracts import CHECKPOINT_LEDGER, CheckpointOutcome

log = logging.getLogger("firebreak.witnesses")


class Witness(Protocol):
    name: str
    """How logs and results name it: its URL without credentials, query or fragment."""

    async def publish(self, size: int, note: str) -> None: ...


class DirectoryWitness:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.name = f"file://{directory}"

    async def publish(self, size: int, note: str) -> None:
        await asyncio.to_thread(self._write, size, note)

    def _write(self, size: int, note: str) -> None:
        _atomic_write(self.directory / "checkpoints" / str(size), note)
        latest = self.directory / "checkpoint"
        if _size_of(latest) <= size:
            _atomic_write(latest, note)


def _size_of(path: Path) -> int:
    """The tree size of the note at `path`, -1 when there is none to keep."""
    try:
        lines = path.read_text(encoding="utf-8").split("\n")
        return int(lines[1])
    except (OSError, ValueError, IndexError):
        return -1


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)


class S3Witness:
    def __init__(self, config: S3Config, client: httpx.AsyncClient | None = None) -> None:
        self._prefix = config.prefix
        self._client = client or signed_client(config)
        self.name = f"s3://{config.bucket}/{config.prefix}"

    async def publish(self, size: int, note: str) -> None:
        for key in (f"{self._prefix}checkpoints/{size}", f"{self._prefix}checkpoint"):
            await call(
                self._client,
                "PUT",
                "/" + quote(key),
                what=f"witness {self.name}",
                content=note.encode(),
                headers={"Content-Type": "text/plain; charset=utf-8"},
            )


class HttpWitness:
    def __init__(self, url: str, timeout: float) -> None:
        self._url = url
        self._timeout = timeout
        self.name = _display(url)

    async def publish(self, size: int, note: str) -> None:
        async with httpx.AsyncClient(timeout=self._timeout) as client:
            await call(
                client,
                "POST",
                self._url,
                what=f"witness {self.name}",
                content=note.encode(),
                headers={"Content-Type": "text/plain; charset=utf-8"},
            )


def _display(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def witnesses_from(settings: Settings) -> list[Witness]:
    """The configured witnesses; ConfigError naming a URL that is not one."""
    found: list[Witness] = []
    for url in settings.witnesses:
        parts = urlsplit(url)
        if parts.scheme == "file" and parts.path and not parts.netloc:
            found.append(DirectoryWitness(Path(parts.path)))
        elif parts.scheme == "s3" and parts.hostname:
            prefix = parts.path.lstrip("/")
            if prefix and not prefix.endswith("/"):
                prefix += "/"
            config = S3Config(
                endpoint=settings.s3_endpoint,
                bucket=parts.hostname,
                region=settings.s3_region,
                prefix=prefix,
                access_key_env=settings.s3_access_key_env,
                secret_key_env=settings.s3_secret_key_env,
                timeout_seconds=settings.provider_timeout_seconds,
            )
            found.append(S3Witness(config))
        elif parts.scheme in ("http", "https") and parts.hostname:
            found.append(HttpWitness(url, settings.provider_timeout_seconds))
        else:
            raise ConfigError(
                f"FIREBREAK_WITNESSES: not a witness (file:///dir, s3://bucket/prefix,"
                f" http(s)://…): {_display(url)}"
            )
    return found


class CheckpointActivities:
    """The scheduled checkpoint: sign the head unless it has not moved, then publish the
    latest checkpoint to every witness."""

    def __init__(self, store: EventStore, witnesses: list[Witness]) -> None:
        self.store = store
        self.witnesses = witnesses

    @activity.defn(name=CHECKPOINT_LEDGER)
    async def checkpoint(self) -> CheckpointOutcome:
        try:
            made = await asyncio.to_thread(self.store.checkpoint_if_moved)
            latest = made or (await asyncio.to_thread(self.store.checkpoints, 1))[0]
        except FirebreakError as exc:
            raise ApplicationError(exc.detail, type=type(exc).__name__) from None
        published, failed = await self.publish(latest)
        if failed:
            raise ApplicationError(
                f"checkpoint at {latest.position} stored; not published to: {', '.join(failed)}",
                type="WitnessUnavailable",
            )
        return CheckpointOutcome(
            position=latest.position, created=made is not None, published=published
        )

    async def publish(self, point: Checkpoint) -> tuple[list[str], list[str]]:
        """Publish to every witness at once; (reached, failed) by name."""
        note = point.note
        if note is None:
            return [], []
        results = await asyncio.gather(
            *(w.publish(point.position, note) for w in self.witnesses), return_exceptions=True
        )
        published, failed = [], []
        for witness, result in zip(self.witnesses, results, strict=True):
            if isinstance(result, BaseException):
                detail = f"{type(result).__name__}: {result}"
                log.warning(
                    "checkpoint at %d not published to %s: %s",
                    point.position,
                    witness.name,
                    detail,
                )
                failed.append(witness.name)
            else:
                published.append(witness.name)
        return published, failed

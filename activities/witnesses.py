"""Witnesses: where signed checkpoint notes are published, outside the database.

An insider who can rewrite the database can also delete its checkpoints; a copy elsewhere is
what `firebreak audit verify --checkpoint` checks the database against. `FIREBREAK_WITNESSES`
lists them:

- ``file:///dir``: writes ``dir/checkpoints/<tree size>`` and ``dir/checkpoint`` (the latest),
  each atomically (temporary file, then rename); ``checkpoint`` never moves back to a smaller
  tree;
- ``s3://bucket/prefix``: PUTs ``<prefix>checkpoints/<size>`` and ``<prefix>checkpoint`` on
  the evidence store's S3 endpoint with its credentials (`FIREBREAK_S3_*`), and reads them
  back for `audit verify --checkpoint s3://…` (`S3Witness.notes`);
- ``http://…`` / ``https://…``: POSTs the note, ``Content-Type: text/plain``; any 2xx is
  accepted.

Publishing never holds up appends and never loses a checkpoint: it is stored first, and a
witness that fails is logged (by its name, credentials stripped), counted
(`firebreak_witness_publishes_total{outcome="failed"}`) and retried with the activity, which
re-publishes the latest note.
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

from activities.errors import ResourceNotFound
from activities.providers.http_support import call, permanent
from activities.providers.s3_datasets import S3Config, error_code, list_keys, signed_client
from orchestrator.audit import Checkpoint, EventStore
from orchestrator.errors import ConfigError, FirebreakError
from orchestrator.settings import Settings
from orchestrator.telemetry.instruments import WITNESS_PUBLISHES
from workflows.contracts import CHECKPOINT_LEDGER, CheckpointOutcome

log = logging.getLogger("firebreak.witnesses")
LATEST = "checkpoint"
"""The latest note, under a witness's directory or key prefix."""
EACH = "checkpoints"
"""The folder (or key prefix) of every note, named by its tree size: `checkpoints/<size>`."""


class Witness(Protocol):
    name: str
    """How logs and results name it: its URL without credentials, query or fragment."""
    kind: str
    """`file`, `s3` or `http` (https too): the metric's label, bounded whatever the URLs."""

    async def publish(self, size: int, note: str) -> None: ...


class DirectoryWitness:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.name = f"file://{directory}"
        self.kind = "file"

    async def publish(self, size: int, note: str) -> None:
        await asyncio.to_thread(self._write, size, note)

    def _write(self, size: int, note: str) -> None:
        _atomic_write(self.directory / EACH / str(size), note)
        latest = self.directory / LATEST
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
        self._config = config
        self._prefix = config.prefix
        self._client = client or signed_client(config)
        self.name = f"s3://{config.bucket}/{config.prefix}"
        self.kind = "s3"

    async def aclose(self) -> None:
        await self._client.aclose()

    async def publish(self, size: int, note: str) -> None:
        for key in (f"{self._prefix}{EACH}/{size}", f"{self._prefix}{LATEST}"):
            await call(
                self._client,
                "PUT",
                "/" + quote(key),
                what=f"witness {self.name}",
                content=note.encode(),
                headers={"Content-Type": "text/plain; charset=utf-8"},
            )

    async def notes(self) -> list[tuple[str, str]]:
        """Every note this witness wrote, as (its `s3://` URL, its text): the latest, then one
        per tree size, smallest first. ResourceNotFound without a bucket or without a single
        note; a permanent ProviderError when the credential is refused.

        The latest note is read first, so a missing bucket or a refused credential is named
        before anything is listed (S3 answers both on any request)."""
        latest = await self._read(f"{self._prefix}{LATEST}")
        listed = await list_keys(
            self._client, f"{self._prefix}{EACH}/", what=f"witness {self.name}: list"
        )
        sizes = [k for k in listed if k.removeprefix(f"{self._prefix}{EACH}/").isdigit()]
        sizes.sort(key=lambda k: int(k.rsplit("/", 1)[1]))
        found = [] if latest is None else [(self._url(f"{self._prefix}{LATEST}"), latest)]
        for key in sizes:
            text = await self._read(key)
            if text is not None:  # deleted since it was listed: nothing left to check
                found.append((self._url(key), text))
        if not found:
            raise ResourceNotFound(
                f"witness {self.name}: no checkpoint under the prefix (no {LATEST} and no"
                f" {EACH}/<size> objects)"
            )
        return found

    async def _read(self, key: str) -> str | None:
        """The object's text, None when there is no such key; the bucket missing or the
        credential refused are errors that say so (with S3's error code, never its body)."""
        response = await call(
            self._client,
            "GET",
            "/" + quote(key),
            what=f"witness {self.name}: read {key}",
            accept={403, 404},
        )
        code = error_code(response)
        if response.status_code == 404 and code == "NoSuchBucket":
            raise ResourceNotFound(f"witness {self.name}: no such bucket {self._config.bucket!r}")
        if response.status_code == 404:
            return None
        if response.status_code == 403:
            raise permanent(
                f"witness {self.name}: access denied ({code or 'HTTP 403'}) reading {key}: check"
                f" the credential in {self._config.access_key_env} and"
                f" {self._config.secret_key_env}, and its permissions"
            )
        return response.content.decode("utf-8", errors="replace")

    def _url(self, key: str) -> str:
        return f"s3://{self._config.bucket}/{key}"


class HttpWitness:
    def __init__(self, url: str, timeout: float) -> None:
        self._url = url
        self._timeout = timeout
        self.name = _display(url)
        self.kind = "http"

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
            found.append(S3Witness(s3_witness_config(settings, url)))
        elif parts.scheme in ("http", "https") and parts.hostname:
            found.append(HttpWitness(url, settings.provider_timeout_seconds))
        else:
            raise ConfigError(
                f"FIREBREAK_WITNESSES: not a witness (file:///dir, s3://bucket/prefix,"
                f" http(s)://…): {_display(url)}"
            )
    return found


def s3_witness_config(settings: Settings, url: str) -> S3Config:
    """The S3 witness at `s3://bucket/prefix`, on the evidence store's endpoint, region and
    credential variables: what publishing writes with is what an auditor reads back with."""
    parts = urlsplit(url)
    prefix = parts.path.lstrip("/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return S3Config(
        endpoint=settings.s3_endpoint,
        bucket=parts.hostname or "",
        region=settings.s3_region,
        prefix=prefix,
        access_key_env=settings.s3_access_key_env,
        secret_key_env=settings.s3_secret_key_env,
        timeout_seconds=settings.provider_timeout_seconds,
    )


async def read_s3_witness(settings: Settings, url: str) -> list[tuple[str, str]]:
    """`S3Witness.notes` of the witness at `url`; an ActivityError (its message free of
    secrets) names what went wrong, a credential variable that is not set included."""
    witness = S3Witness(s3_witness_config(settings, url))
    try:
        return await witness.notes()
    finally:
        await witness.aclose()


class CheckpointActivities:
    """The scheduled checkpoint: sign the head unless it has not moved, then publish the
    latest checkpoint to every witness."""

    def __init__(self, store: EventStore, witnesses: list[Witness]) -> None:
        self.store = store
        self.witnesses = witnesses
        for witness in witnesses:  # every series from the start: a first failure is a rise
            for outcome in ("ok", "failed"):
                WITNESS_PUBLISHES.labels(kind=witness.kind, outcome=outcome)

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
                WITNESS_PUBLISHES.labels(kind=witness.kind, outcome="failed").inc()
            else:
                published.append(witness.name)
                WITNESS_PUBLISHES.labels(kind=witness.kind, outcome="ok").inc()
        return published, failed

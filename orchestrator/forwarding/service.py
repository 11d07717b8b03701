"""The forwarder: follow the ledger and deliver every event to each sink, at least once.

One loop per sink. Each step reads a batch after the sink's cursor, formats it, sends it, and
moves the cursor only once the sink acknowledged it, so a crash or a kill re-sends a batch and
never skips one. On PostgreSQL one process per sink forwards at a time (an advisory lock,
`orchestrator.leases`), so several workers started with `--forward` share the work without
sending everything twice. A failing sink is retried with exponential backoff and full jitter,
its failure written to its cursor row (for `/readyz` and `/metrics`) and logged once per
change of reason; a record the sink refuses as invalid holds that sink at it, logged as an
error with the event's id and position, until the sink takes it: nothing is skipped silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable, Sequence
from itertools import islice

import anyio
import sqlalchemy as sa

from orchestrator.audit import EventStore
from orchestrator.db import DATABASE_ERRORS, database_unavailable
from orchestrator.domain import RecordedEvent
from orchestrator.errors import FirebreakError
from orchestrator.forwarding.cursors import Cursors
from orchestrator.forwarding.formats import Format, get_format
from orchestrator.forwarding.models import Record, Rejected, SinkConfig, SinkError
from orchestrator.forwarding.sinks import Sink, build_sink
from orchestrator.leases import Lease, lock_key
from orchestrator.settings import Settings

log = logging.getLogger(__name__)

BACKOFF_BASE_SECONDS = 0.5
_random = secrets.SystemRandom()


def backoff(attempt: int, cap: float, base: float = BACKOFF_BASE_SECONDS) -> float:
    """Seconds before retry number `attempt` (1, 2, …): full jitter over an exponential
    ceiling, so sinks that failed together do not all come back at the same instant."""
    return _random.uniform(0, min(cap, base * 2 ** min(attempt - 1, 30)))


def record_of(event: RecordedEvent, format_: Format) -> Record:
    return Record(
        position=event.position,
        id=event.id,
        type=event.type,
        stream_id=event.stream_id,
        hash=event.hash,
        occurred_at=event.occurred_at,
        body=format_(event),
    )


class SinkForwarder:
    """Forwards the ledger to one sink."""

    def __init__(
        self,
        store: EventStore,
        config: SinkConfig,
        *,
        sink: Sink | None = None,
        batch_size: int = 200,
        timeout: float = 15.0,
    ) -> None:
        self.store = store
        self.config = config
        self.format = get_format(config.format)
        self.sink = sink if sink is not None else build_sink(config, timeout)
        self.batch_size = batch_size
        self.cursors = Cursors(store.engine)
        self.lease = Lease(store.engine, lock_key(f"firebreak.forward:{config.name}"))
        self.attempt = 0
        self.failing: str | None = None
        self._tracked = False

    def _batch(self) -> tuple[int, list[Record], Rejected | None]:
        """(cursor, the next records, a record the format could not turn into one)."""
        if not self._tracked:
            self.cursors.ensure(self.config.name)
            self._tracked = True
        start = self.cursors.position(self.config.name)
        events = self.store.read_all(start, self.batch_size, sealed=self.config.sealed == "keep")
        records: list[Record] = []
        for event in islice(events, self.batch_size):
            try:
                records.append(record_of(event, self.format))
            except Exception as exc:  # a mapping bug must hold the sink loudly, not crash it
                detail = (
                    f"{self.config.name}: format {self.config.format} failed:"
                    f" {type(exc).__name__}: {exc}"
                )
                return (
                    start,
                    records,
                    Rejected(len(records), _held(event.id, event.position, detail)),
                )
        return start, records, None

    async def step(self) -> int:
        """Send the next batch; return how many records the sink acknowledged (0: caught up).

        Raises `SinkError` or `Rejected` (at index 0) when nothing could be delivered.
        """
        start, records, unformatted = await anyio.to_thread.run_sync(self._batch)
        if not records:
            if unformatted is not None:
                raise unformatted
            return 0
        try:
            await self.sink.send(records)
        except Rejected as rejected:
            if rejected.index == 0:
                first = records[0]
                raise Rejected(0, _held(first.id, first.position, rejected.detail)) from None
            records = records[: rejected.index]
            await self.sink.send(records)  # what came before it, on its own
        end = records[-1].position
        await anyio.to_thread.run_sync(
            self.cursors.advance, self.config.name, start, end, len(records)
        )
        return len(records)

    async def catch_up(self) -> int:
        """Forward until the sink has every event appended so far; the number forwarded.
        Raises on the first failure (`--once`)."""
        total = 0
        while moved := await self.step():
            total += moved
        return total

    async def run(self, poll: float, max_backoff: float, stop: asyncio.Event) -> None:
        """Follow the ledger until `stop` is set; failures are retried, never raised."""
        try:
            while not stop.is_set():
                delay = await self._tick(poll, max_backoff)
                with anyio.move_on_after(delay):
                    await stop.wait()
        finally:
            self.lease.release()
            await self.sink.close()

    async def _tick(self, poll: float, max_backoff: float) -> float:
        """One round: forward while there is work; the seconds to wait before the next."""
        try:
            # Leadership is checked before every batch: a forwarder whose lock went with its
            # connection stops at once instead of sending a backlog beside the new leader.
            while await anyio.to_thread.run_sync(self.lease.leads):
                moved = await self.step()
                self._recovered()
                if not moved:
                    break
            return poll
        except (SinkError, Rejected) as exc:
            retry_after = exc.retry_after if isinstance(exc, SinkError) else None
            return await self._failed(exc.detail, retry_after, max_backoff, exc)
        except (sa.exc.SQLAlchemyError, FirebreakError) as exc:
            self.lease.release()
            return await self._failed(_reason(exc), None, max_backoff, exc, record=False)

    async def _failed(
        self,
        reason: str,
        retry_after: float | None,
        max_backoff: float,
        exc: Exception,
        *,
        record: bool = True,
    ) -> float:
        self.attempt += 1
        if record:
            # The database may be down too: the log line below still says it.
            with contextlib.suppress(sa.exc.SQLAlchemyError, FirebreakError):
                await anyio.to_thread.run_sync(self.cursors.failed, self.config.name, reason)
        if reason != self.failing:
            level = logging.ERROR if isinstance(exc, Rejected) else logging.WARNING
            log.log(level, "forwarding to %s failing: %s", self.config.name, reason)
            self.failing = reason
        delay = backoff(self.attempt, max_backoff)
        return max(delay, min(retry_after or 0.0, max_backoff))

    def _recovered(self) -> None:
        if self.failing is not None:
            log.warning("forwarding to %s resumed", self.config.name)
        self.failing = None
        self.attempt = 0


def _held(event_id: str, position: int, detail: str) -> str:
    """The report of a record that holds its sink: which event, where, and what was said."""
    return (
        f"rejected event {event_id} at position {position} (held there until the sink accepts"
        f" it): {detail}"
    )


def _reason(exc: Exception) -> str:
    if isinstance(exc, FirebreakError):
        return exc.detail
    if isinstance(exc, DATABASE_ERRORS):
        return database_unavailable(exc, "event store").detail
    return type(exc).__name__


def forwarder_for(store: EventStore, config: SinkConfig, settings: Settings) -> SinkForwarder:
    """The forwarder of one sink with the `FIREBREAK_FORWARD_*` batch size and timeout."""
    return SinkForwarder(
        store,
        config,
        batch_size=settings.forward_batch_size,
        timeout=settings.forward_timeout_seconds,
    )


def forwarders_for(
    store: EventStore, configs: Sequence[SinkConfig], settings: Settings
) -> list[SinkForwarder]:
    """Every sink's forwarder, built before anything runs: a mistake in one (a token variable
    not set, a CA file missing) is a `ConfigError` at start-up, not a silent task failure."""
    return [forwarder_for(store, config, settings) for config in configs]


async def forward(
    forwarders: Sequence[SinkForwarder],
    settings: Settings,
    *,
    stop: asyncio.Event,
    announce: Callable[[str], None] | None = None,
) -> None:
    """Run every forwarder until `stop` is set (the CLI's and the worker's loop), paced by the
    `FIREBREAK_FORWARD_*` settings."""
    if announce is not None:
        for forwarder in forwarders:
            config = forwarder.config
            announce(f"forwarding to {config.name} ({config.format}, sealed={config.sealed})")
    poll, max_backoff = settings.forward_poll_seconds, settings.forward_max_backoff_seconds
    async with anyio.create_task_group() as group:
        for forwarder in forwarders:
            group.start_soon(forwarder.run, poll, max_backoff, stop)

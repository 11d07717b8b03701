"""Group commit: callers that arrive while a flush for their key is in flight share the next one.

The alert path has three steps that cost a fixed price per call, whatever they carry: a
database transaction for the audit record, a Temporal signal per incident, a transaction for
the receipts. Under load, requests queue behind each other at those steps anyway; here they
queue *together*, so the price is paid once per batch. An idle system pays nothing extra (the
first caller flushes at once, alone); a burst pays one flush per batch instead of per caller.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Generic, TypeVar

from orchestrator.errors import Unavailable

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")
R = TypeVar("R")

MAX_REMEMBERED = 10_000
"""Keys whose last flush start is kept for `linger`, before the stale ones are dropped."""

Flush = Callable[[K, list[T]], Awaitable[Sequence[R | BaseException]]]


class GroupCommit(Generic[K, T, R]):
    """Batches `submit(key, item)` calls per key and runs `flush(key, items)` for each batch.

    `flush` returns one outcome per item, in order: a result, or an exception for that item
    alone. If `flush` raises, every item of the batch gets that exception. A batch holds at
    most `max_batch` items and, when `weigh` is given, items weighing `max_weight` in all (the
    first item always goes, whatever it weighs). With `linger`, a key's flushes start at least
    `linger` apart, so a steady stream travels in batches even when each flush is quick; a key
    quiet for a linger goes at once.
    """

    def __init__(
        self,
        flush: Flush[K, T, R],
        *,
        max_batch: int = 256,
        weigh: Callable[[T], int] | None = None,
        max_weight: int = 0,
        linger: float = 0.0,
    ) -> None:
        self._flush = flush
        self._max_batch = max_batch
        self._weigh = weigh
        self._max_weight = max_weight
        self._linger = linger
        self._waiting: dict[K, list[tuple[T, asyncio.Future[R]]]] = {}
        self._senders: set[asyncio.Task[None]] = set()
        self._started_at: dict[K, float] = {}

    async def submit(self, key: K, item: T) -> R:
        """Return `item`'s outcome once a flush has carried it (or raise its failure)."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        queue = self._waiting.get(key)
        if queue is not None:
            queue.append((item, future))
        else:
            self._waiting[key] = [(item, future)]
            sender = asyncio.create_task(self._send(key))
            self._senders.add(sender)
            sender.add_done_callback(self._senders.discard)
        # A caller that goes away must not cancel the flush its batch-mates wait on.
        return await asyncio.shield(future)

    def _delay(self, key: K) -> float:
        """What is left of `linger` since `key`'s last flush started: a steady stream waits
        for company, while a caller waiting on a slow flush, or the first in a while, does not
        wait any longer."""
        if not self._linger:
            return 0.0
        now = asyncio.get_running_loop().time()
        if len(self._started_at) > MAX_REMEMBERED:
            self._started_at = {
                k: at for k, at in self._started_at.items() if now - at < self._linger
            }
        return max(0.0, self._started_at.get(key, -math.inf) + self._linger - now)

    async def _send(self, key: K) -> None:
        """Flush what waits for `key`, then what queued meanwhile, until nothing is left."""
        batch: list[tuple[T, asyncio.Future[R]]] = []
        try:
            while self._waiting[key]:
                if delay := self._delay(key):
                    await asyncio.sleep(delay)
                batch = self._take(key)
                if self._linger:
                    self._started_at[key] = asyncio.get_running_loop().time()
                try:
                    outcomes = await self._flush(key, [item for item, _ in batch])
                except Exception as exc:  # each waiting caller answers with the same failure
                    outcomes = [exc] * len(batch)
                for (_, future), outcome in zip(batch, outcomes, strict=True):
                    _settle(future, outcome)
        finally:
            interrupted = Unavailable("the request was interrupted before it was stored; retry")
            for _, future in batch + self._waiting.pop(key, []):
                _settle(future, interrupted)

    def _take(self, key: K) -> list[tuple[T, asyncio.Future[R]]]:
        waiting = self._waiting[key]
        size = min(len(waiting), self._max_batch)
        if self._weigh is not None and size > 1:
            total = 0
            for index, (item, _) in enumerate(waiting[:size]):
                total += self._weigh(item)
                if total > self._max_weight and index > 0:
                    size = index
                    break
        batch, self._waiting[key] = waiting[:size], waiting[size:]
        return batch


def _settle(future: asyncio.Future[R], outcome: R | BaseException) -> None:
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)

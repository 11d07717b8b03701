"""Ingress limits: a body size cap enforced while reading, and a per-source rate limit.

The rate limit is a token bucket per source in this process (each API replica limits on its
own), refilled continuously; a refused request learns from `Retry-After` when a token is due.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import AsyncIterator

from orchestrator.errors import InvalidInput, PayloadTooLarge, RateLimited


async def read_capped(
    stream: AsyncIterator[bytes], declared_length: str | None, limit: int
) -> bytes:
    """The body, refusing (413) as soon as it is known to exceed `limit` bytes."""
    if declared_length is not None:
        try:
            declared = int(declared_length)
        except ValueError:
            raise InvalidInput("content-length is not an integer", "content-length") from None
        if declared > limit:
            raise PayloadTooLarge(f"body of {declared} bytes exceeds the {limit}-byte limit")
    chunks: list[bytes] = []
    size = 0
    async for chunk in stream:
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body exceeds the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


class RateLimiter:
    """`per_minute` requests per key, with bursts up to the same number."""

    def __init__(self, per_minute: int) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> None:
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                wait = math.ceil((1.0 - tokens) / self.rate)
                raise RateLimited(f"source {key!r} is over its rate limit", retry_after=wait)
            self._buckets[key] = (tokens - 1.0, now)

"""A writer process for the concurrency test (importable, so `spawn` can start it)."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime
from typing import Any

from orchestrator.audit import EventStore
from orchestrator.db import make_engine
from orchestrator.domain import Actor, NewEvent
from orchestrator.errors import ConcurrencyError


def write(url: str, writer: int, batches: int, start: Any) -> tuple[int, int]:
    """Append `batches` batches, some racing on one shared stream; return (written, refused).

    `start` is a barrier every writer waits at once connected: spawned processes come up a
    second or more apart on a busy machine, and a writer that finishes its batches before the
    next one starts races nobody."""
    rng = random.Random(writer)
    engine = make_engine(url)
    store = EventStore(engine)
    written = refused = 0
    try:
        store.head()
        start.wait(timeout=120)
        for n in range(batches):
            events = [
                NewEvent(
                    id=str(uuid.uuid4()),
                    type="StepStarted",
                    actor=Actor(id=f"writer-{writer}", role="system"),
                    occurred_at=datetime.now(UTC),
                    payload={"writer": writer, "batch": n, "i": i},
                )
                for i in range(rng.randint(1, 10))
            ]
            if n % 3 == 0:
                version = len(store.read_stream("shared"))
                try:
                    store.append("shared", events, expected_version=version)
                except ConcurrencyError:
                    refused += 1
                    continue
            else:
                store.append(f"writer-{writer}", events)
            written += len(events)
    finally:
        engine.dispose()
    return written, refused


def extend_tree(url: str, size: int, chunk: int) -> str:
    """Extend the stored Merkle tree to `size` from a process of its own; return the root."""
    from orchestrator.audit import MerkleTree

    engine = make_engine(url)
    try:
        return MerkleTree(engine, chunk=chunk).root(size).hex()
    finally:
        engine.dispose()


def append_same_events(url: str, seed: int, batches: int) -> list[list[int]]:
    """Append the same `batches` (ids and content from `seed`) to stream "same", as every
    racing writer does; return the positions each append was given."""
    rng = random.Random(seed)
    occurred_at = datetime(2026, 12, 1, tzinfo=UTC)
    plan = [
        [
            NewEvent(
                id=str(uuid.UUID(int=rng.getrandbits(128))),
                type="AlertReceived",
                actor=Actor(id="ingress", role="system"),
                occurred_at=occurred_at,
                payload={"batch": n, "i": i},
            )
            for i in range(rng.randint(1, 3))
        ]
        for n in range(batches)
    ]
    engine = make_engine(url)
    try:
        store = EventStore(engine)
        return [store.append("same", events) for events in plan]
    finally:
        engine.dispose()


def append_shared(url: str, seed: int, rounds: int, count: int, start: Any) -> list[list[int]]:
    """Round after round, append the same `count` events as every other process (ids
    `shared-R-NN`, one stream per round, the same content everywhere), in an order of this
    process's own, all processes starting each round together; return each round's positions
    in id order."""
    rng = random.Random(seed)
    engine = make_engine(url)
    found: list[list[int]] = []
    try:
        store = EventStore(engine)
        store.head()
        for r in range(rounds):
            events = [
                NewEvent(
                    id=f"shared-{r}-{n:02d}",
                    type="StepStarted",
                    actor=Actor(id="writer", role="system"),
                    occurred_at=datetime(2026, 3, 1, tzinfo=UTC),
                    payload={"n": n},
                )
                for n in range(count)
            ]
            mine = events[:]
            rng.shuffle(mine)
            start.wait(timeout=30)
            positions = dict(
                zip([e.id for e in mine], store.append(f"shared-{r}", mine), strict=True)
            )
            found.append([positions[e.id] for e in events])
        return found
    finally:
        engine.dispose()

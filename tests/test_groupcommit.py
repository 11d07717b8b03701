"""Group commit: who shares a flush, what each caller gets back, what a failure reaches."""

from __future__ import annotations

import asyncio

import pytest

from orchestrator.errors import Conflict, Unavailable
from orchestrator.groupcommit import GroupCommit

LINGER = 0.3


class Recorder:
    """A flush that records its batches and can be held open to let callers queue."""

    def __init__(self) -> None:
        self.batches: list[tuple[str, list[int]]] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def flush(self, key: str, items: list[int]) -> list[int | BaseException]:
        self.batches.append((key, items))
        await self.gate.wait()
        return [Conflict(f"odd {i}") if i % 2 else i * 10 for i in items]


async def test_callers_arriving_during_a_flush_share_the_next_one() -> None:
    recorder = Recorder()
    recorder.gate.clear()
    commit: GroupCommit[str, int, int] = GroupCommit(recorder.flush)
    first = asyncio.create_task(commit.submit("a", 0))
    await asyncio.sleep(0)
    queued = [asyncio.create_task(commit.submit("a", i)) for i in (2, 4, 6)]
    other = asyncio.create_task(commit.submit("b", 8))
    await asyncio.sleep(0)
    recorder.gate.set()
    assert await first == 0
    assert [await t for t in queued] == [20, 40, 60]
    assert await other == 80
    assert recorder.batches == [("a", [0]), ("b", [8]), ("a", [2, 4, 6])]


async def test_each_caller_gets_its_own_outcome() -> None:
    recorder = Recorder()
    commit: GroupCommit[str, int, int] = GroupCommit(recorder.flush)
    outcomes = await asyncio.gather(
        *(commit.submit("k", i) for i in range(4)), return_exceptions=True
    )
    assert outcomes[0] == 0 and outcomes[2] == 20
    assert isinstance(outcomes[1], Conflict) and isinstance(outcomes[3], Conflict)


async def test_a_failed_flush_fails_its_whole_batch_and_the_next_batch_still_runs() -> None:
    calls: list[list[int]] = []

    async def flush(_key: str, items: list[int]) -> list[int | BaseException]:
        calls.append(items)
        if len(calls) == 1:
            await asyncio.sleep(0.01)
            raise Unavailable("database down")
        return items

    commit: GroupCommit[str, int, int] = GroupCommit(flush)
    first = asyncio.create_task(commit.submit("k", 1))
    await asyncio.sleep(0)
    second = asyncio.create_task(commit.submit("k", 2))
    with pytest.raises(Unavailable, match="database down"):
        await first
    assert await second == 2
    assert calls == [[1], [2]]


async def test_batches_are_capped_by_count_and_by_weight() -> None:
    recorder = Recorder()
    recorder.gate.clear()
    commit: GroupCommit[str, int, int] = GroupCommit(
        recorder.flush, max_batch=3, weigh=lambda i: i, max_weight=10
    )
    tasks = [asyncio.create_task(commit.submit("k", i)) for i in (0, 2, 4, 6, 8, 12, 14)]
    await asyncio.sleep(0)
    recorder.gate.set()
    await asyncio.gather(*tasks)
    # 0+2+4 hits the count cap; then 6+8 and 8+12 would pass the weight cap; 12 and 14 each
    # weigh more than 10 alone and still go, one at a time
    assert [items for _, items in recorder.batches] == [[0, 2, 4], [6], [8], [12], [14]]


async def test_a_caller_that_goes_away_does_not_cancel_its_batch_mates() -> None:
    recorder = Recorder()
    recorder.gate.clear()
    commit: GroupCommit[str, int, int] = GroupCommit(recorder.flush)
    leaving = asyncio.create_task(commit.submit("k", 0))
    staying = asyncio.create_task(commit.submit("k", 2))
    await asyncio.sleep(0)
    leaving.cancel()
    recorder.gate.set()
    assert await staying == 20
    assert recorder.batches == [("k", [0, 2])]


async def test_a_stream_on_one_key_lingers_for_company_and_a_quiet_key_does_not() -> None:
    recorder = Recorder()
    commit: GroupCommit[str, int, int] = GroupCommit(recorder.flush, linger=LINGER)
    loop = asyncio.get_running_loop()
    first = loop.time()
    assert await commit.submit("a", 0) == 0
    assert loop.time() - first < LINGER / 2, "the first caller on a key goes at once"
    stream = [asyncio.create_task(commit.submit("a", i)) for i in (2, 4)]
    await asyncio.sleep(LINGER / 3)
    stream.append(asyncio.create_task(commit.submit("a", 6)))
    quiet = await commit.submit("b", 8)
    assert quiet == 80 and loop.time() - first < LINGER, "another key does not wait"
    assert [await t for t in stream] == [20, 40, 60]
    assert loop.time() - first >= LINGER, "a key's flushes start a linger apart"
    assert loop.time() - first < 1.5 * LINGER, "counted from the last start, not from the caller"
    assert recorder.batches == [("a", [0]), ("b", [8]), ("a", [2, 4, 6])]
    await asyncio.sleep(1.1 * LINGER)
    started = loop.time()
    assert await commit.submit("a", 10) == 100
    assert loop.time() - started < LINGER / 2, "a key quiet for a linger goes at once again"


async def test_the_linger_counts_from_the_last_flush_start_so_a_slow_flush_adds_no_wait() -> None:
    recorder = Recorder()
    commit: GroupCommit[str, int, int] = GroupCommit(recorder.flush, linger=LINGER)
    loop = asyncio.get_running_loop()
    recorder.gate.clear()
    first = loop.time()
    slow = asyncio.create_task(commit.submit("a", 0))
    await asyncio.sleep(0.7 * LINGER)
    recorder.gate.set()
    assert await slow == 0
    assert await commit.submit("a", 2) == 20
    assert LINGER <= loop.time() - first < 1.3 * LINGER, "waits only what is left of the linger"
    await asyncio.sleep(LINGER)
    recorder.gate.clear()
    slower = asyncio.create_task(commit.submit("a", 4))
    await asyncio.sleep(0)
    queued = asyncio.create_task(commit.submit("a", 6))
    await asyncio.sleep(1.2 * LINGER)
    released = loop.time()
    recorder.gate.set()
    assert [await slower, await queued] == [40, 60]
    assert loop.time() - released < LINGER / 2, "queued behind a flush longer than the linger"
    assert recorder.batches == [("a", [0]), ("a", [2]), ("a", [4]), ("a", [6])]


async def test_without_linger_a_key_flushed_a_moment_ago_goes_at_once() -> None:
    recorder = Recorder()
    commit: GroupCommit[str, int, int] = GroupCommit(recorder.flush)
    await commit.submit("a", 0)
    first = asyncio.create_task(commit.submit("a", 2))
    await asyncio.sleep(LINGER / 3)
    second = asyncio.create_task(commit.submit("a", 4))
    assert [await first, await second] == [20, 40]
    assert recorder.batches == [("a", [0]), ("a", [2]), ("a", [4])]

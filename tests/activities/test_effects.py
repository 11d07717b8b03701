"""Effect records: the first answer of each provider effect, kept in the event-store database
(SQLite and PostgreSQL) so a repeat on any worker answers it and does nothing."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from activities.effects import EffectRecords
from activities.errors import ProviderError
from activities.providers.protocols import KeyState
from orchestrator import db


@pytest.fixture
def workers(db_url: str) -> Iterator[tuple[EffectRecords, EffectRecords]]:
    """Two workers' record stores, each with its own engine, on one migrated database."""
    db.upgrade(db_url)
    engines = db.make_engine(db_url), db.make_engine(db_url)
    yield EffectRecords(engines[0]), EffectRecords(engines[1])
    for engine in engines:
        engine.dispose()


class Effect:
    """A provider effect that counts its calls and answers `changed` on the first only."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self) -> KeyState:
        self.calls += 1
        return KeyState(key_id="key-1", active=False, changed=self.calls == 1)


async def test_a_repeat_on_another_worker_returns_the_first_answer_and_does_nothing(
    workers: tuple[EffectRecords, EffectRecords],
) -> None:
    first, second = workers
    effect = Effect()
    answer = await first.once("keys.revoke", "inc-1/contain", KeyState, effect)
    again = await second.once("keys.revoke", "inc-1/contain", KeyState, effect)
    assert answer == again == KeyState(key_id="key-1", active=False, changed=True)
    assert effect.calls == 1


async def test_operations_and_keys_are_recorded_apart(
    workers: tuple[EffectRecords, EffectRecords],
) -> None:
    records, _ = workers
    effect = Effect()
    await records.once("keys.revoke", "inc-1/contain", KeyState, effect)
    other_step = await records.once("keys.revoke", "inc-1/again", KeyState, effect)
    other_op = await records.once("keys.restore", "inc-1/contain", KeyState, effect)
    assert effect.calls == 3 and not other_step.changed and not other_op.changed


async def test_a_failed_effect_is_not_recorded(
    workers: tuple[EffectRecords, EffectRecords],
) -> None:
    records, _ = workers

    async def failing() -> KeyState:
        raise ProviderError("gateway answered 503")

    with pytest.raises(ProviderError):
        await records.once("keys.revoke", "inc-1/contain", KeyState, failing)
    effect = Effect()
    assert (await records.once("keys.revoke", "inc-1/contain", KeyState, effect)).changed
    assert effect.calls == 1


def test_two_attempts_recording_at_once_keep_one_answer(
    workers: tuple[EffectRecords, EffectRecords],
) -> None:
    """Two attempts that both ran the effect (the first timed out) record different answers
    at the same moment: one record stands and both are told it."""
    start = threading.Barrier(2)
    told: list[object] = []

    def record(records: EffectRecords, changed: bool) -> None:
        start.wait(timeout=30)
        result = {"key_id": "key-1", "active": False, "changed": changed}
        told.append(records.record("keys.revoke", "inc-1/contain", result))

    threads = [
        threading.Thread(target=record, args=(records, changed))
        for records, changed in zip(workers, (True, False), strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(told) == 2 and told[0] == told[1]
    assert workers[0].recorded("keys.revoke", "inc-1/contain") == told[0]


async def test_evidence_digests_and_hostile_keys_round_trip(
    workers: tuple[EffectRecords, EffectRecords],
) -> None:
    records, other = workers
    key = "inc-'; DROP TABLE effect_records; --/\u202estep" + "x" * 1000

    async def put() -> str:
        return "ab" * 32

    assert await records.once("evidence.put", key, str, put) == "ab" * 32

    async def must_not_run() -> str:
        raise AssertionError("a recorded effect ran again")

    assert await other.once("evidence.put", key, str, must_not_run) == "ab" * 32


async def test_an_unmigrated_store_is_a_retryable_error_naming_the_fix(db_url: str) -> None:
    db.upgrade(db_url, "0005")
    engine = db.make_engine(db_url)
    try:
        with pytest.raises(ProviderError) as unavailable:
            await EffectRecords(engine).once("keys.revoke", "k", KeyState, Effect())
    finally:
        engine.dispose()
    assert unavailable.value.retryable
    assert "run `firebreak db upgrade`" in unavailable.value.message

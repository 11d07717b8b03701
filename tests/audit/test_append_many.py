"""Group commit of several streams' appends in one transaction, on both backends."""

from __future__ import annotations

from orchestrator.audit import EventStore, StreamAppend
from orchestrator.errors import ConcurrencyError, Conflict
from tests.audit.test_store import count_rows
from tests.support.events import new_event


def test_appends_to_many_streams_commit_together_in_order(store: EventStore) -> None:
    outcomes = store.append_many(
        [
            StreamAppend("alert-1", [new_event()], expected_version=0),
            StreamAppend("alert-2", [new_event(), new_event()], expected_version=0),
            StreamAppend("alert-1", [new_event()], expected_version=1),
            StreamAppend("alert-3", []),
        ]
    )
    assert outcomes == [[1], [2, 3], [4], []]
    assert [e.version for e in store.read_stream("alert-1")] == [1, 2]
    assert [e.version for e in store.read_stream("alert-2")] == [1, 2]
    assert store.verify().ok
    assert store.head()[0] == 4


def test_each_append_keeps_its_own_outcome_when_one_cannot_go_through(
    store: EventStore,
) -> None:
    retried = new_event(payload={"k": "v"})
    changed = new_event(payload={"k": "v"})
    store.append("retry", [retried], expected_version=0)
    store.append("taken", [new_event()])
    store.append("changed", [changed])
    outcomes = store.append_many(
        [
            StreamAppend("fresh", [new_event()], expected_version=0),
            StreamAppend("taken", [new_event()], expected_version=0),
            StreamAppend("retry", [retried], expected_version=0),
            StreamAppend("changed", [changed.model_copy(update={"payload": {"k": "w"}})]),
            StreamAppend("fresh-too", [new_event()]),
        ]
    )
    fresh, taken, retry, conflict, fresh_too = outcomes
    assert fresh == [4]
    assert isinstance(taken, ConcurrencyError)
    assert retry == [1]
    assert isinstance(conflict, Conflict)
    assert fresh_too == [5]
    assert count_rows(store) == 5
    assert store.verify().ok


def test_a_twin_in_the_same_batch_is_stored_once(store: EventStore) -> None:
    twin = new_event(payload={"alert": "a-1"})
    outcomes = store.append_many(
        [
            StreamAppend("alert-a-1", [twin], expected_version=0),
            StreamAppend("alert-a-1", [twin], expected_version=0),
        ]
    )
    assert outcomes == [[1], [1]]
    assert count_rows(store) == 1

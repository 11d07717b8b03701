"""`audit_append`'s array parameters in PostgreSQL's binary format (`orchestrator.audit.arrays`),
read back by a real server: what it parses must be exactly the values sent, for every value
an append can carry (nulls, empty arrays, any text, the 32-bit limits, timestamps from year 1
to 9999), and in the connection's own client encoding."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import psycopg
import pytest

from orchestrator.audit.arrays import IntArray, TextArray, TimestampArray, register
from tests.audit.test_append_function import TRICKY
from tests.support.databases import PG_ADMIN_URL, _libpq

YEAR_ONE = datetime(1, 1, 1, tzinfo=UTC)


@pytest.fixture
def conn() -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(_libpq(PG_ADMIN_URL), autocommit=True) as connection:
        register(connection)
        yield connection


def _back(conn: psycopg.Connection[Any], cast: str, value: object) -> Any:
    row = conn.execute(f"SELECT %(a)b::{cast}", {"a": value}).fetchone()
    assert row is not None
    return row[0]


@pytest.mark.parametrize(
    "items",
    [TRICKY, [], ["one"], [None], ["a", None, "", None], ["x" * 100_000, "y"]],
    ids=["tricky", "empty", "one", "null", "nulls-between", "long"],
)
def test_text_arrays_arrive_as_sent(conn: psycopg.Connection[Any], items: list[str | None]) -> None:
    assert _back(conn, "text[]", TextArray(items)) == items


@pytest.mark.parametrize(
    "items",
    [[], [0], [1, 2, 3], [None], [5, None, 7], [2**31 - 1, -(2**31), -1]],
    ids=["empty", "zero", "several", "null", "null-between", "limits"],
)
def test_integer_arrays_arrive_as_sent(
    conn: psycopg.Connection[Any], items: list[int | None]
) -> None:
    assert _back(conn, "integer[]", IntArray(items)) == items


def test_timestamp_arrays_arrive_as_the_same_instants(conn: psycopg.Connection[Any]) -> None:
    india = timezone(timedelta(hours=5, minutes=30))
    items = [
        datetime(2026, 12, 1, 17, 57, 19, 123456, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(999, 6, 1, 12, 0, 0, 5, tzinfo=UTC),
        datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2000, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 3, 29, 2, 30, tzinfo=india),
        None,
    ]
    assert _back(conn, "timestamptz[]", TimestampArray(items)) == items
    assert _back(conn, "timestamptz[]", TimestampArray([])) == []


def test_the_bytes_are_psycopgs_own_for_text_and_timestamps(conn: psycopg.Connection[Any]) -> None:
    """A second writer of the same format: psycopg's generic list adaptation, element type
    found by inspection, must produce the identical bytes."""
    transformer = psycopg.adapt.Transformer(conn)
    for ours, plain in [
        (TextArray(TRICKY), TRICKY),
        (TextArray(["a", None]), ["a", None]),
        (TimestampArray([YEAR_ONE, None]), [YEAR_ONE, None]),
    ]:
        theirs = transformer.get_dumper(plain, psycopg.adapt.PyFormat.BINARY).dump(plain)
        mine = transformer.get_dumper(ours, psycopg.adapt.PyFormat.BINARY).dump(ours)
        assert bytes(mine) == bytes(theirs)


def test_text_is_written_in_the_connections_client_encoding() -> None:
    """A server asked for LATIN1 reads LATIN1 bytes: a dumper that always wrote UTF-8 would
    store two characters for each accented one."""
    with psycopg.connect(
        _libpq(PG_ADMIN_URL), autocommit=True, options="-c client_encoding=LATIN1"
    ) as latin:
        register(latin)
        assert latin.info.encoding == "iso8859-1"
        assert _back(latin, "text[]", TextArray(["é ü ß", "café"])) == ["é ü ß", "café"]
        row = latin.execute(
            "SELECT length((%(a)b::text[])[1])", {"a": TextArray(["é ü ß"])}
        ).fetchone()
        assert row == (5,)


def test_an_unregistered_connection_refuses_the_types_by_name() -> None:
    """Without `register` psycopg says it cannot adapt the type: nothing is sent as bytea."""
    with (
        psycopg.connect(_libpq(PG_ADMIN_URL), autocommit=True) as plain,
        pytest.raises(psycopg.ProgrammingError, match="TextArray"),
    ):
        plain.execute("SELECT %(a)b::text[]", {"a": TextArray(["x"])})

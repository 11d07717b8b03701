"""The first answer of every provider effect, by operation and idempotency key, in the database.

`protocols.py` promises that an effect repeated with its idempotency key applies nothing and
returns what the first call returned. Most real systems cannot say what they answered before:
an HTTP gateway asked again finds the key already revoked and answers "unchanged", and the
workflow would lose the inverse it compensates with. So the activities record each effect's
result in `effect_records` (migration `0008`) and answer a repeat from there, whichever worker
runs it. The record is written after the effect: a worker killed in between leaves no record,
and the retry asks the provider again, whose own idempotency (the state it finds) is then the
last line. Two attempts finishing together keep the first record written, and both return it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from pydantic import TypeAdapter

from activities.errors import database_errors
from orchestrator.db import upsert, writing

metadata = sa.MetaData()
records = sa.Table(
    "effect_records",
    metadata,
    sa.Column("operation", sa.String(64), primary_key=True),
    sa.Column("idempotency_key", sa.Text, primary_key=True),
    sa.Column("result", sa.JSON, nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False, index=True),
)

R = TypeVar("R")


class EffectRecords:
    """`once(operation, key, ...)`: the recorded answer, or the effect's, recorded first-wins."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    async def once(
        self,
        operation: str,
        idempotency_key: str,
        result_type: type[R],
        apply: Callable[[], Awaitable[R]],
    ) -> R:
        """Run `apply` unless `(operation, idempotency_key)` has a record; either way, the
        first recorded result."""
        adapter: TypeAdapter[R] = TypeAdapter(result_type)
        stored = await asyncio.to_thread(self.recorded, operation, idempotency_key)
        if stored is not None:
            return adapter.validate_python(stored)
        result = await apply()
        first = await asyncio.to_thread(
            self.record, operation, idempotency_key, adapter.dump_python(result, mode="json")
        )
        return adapter.validate_python(first)

    def recorded(self, operation: str, idempotency_key: str) -> Any | None:
        """The stored result (JSON) of the effect, or None if none is recorded."""
        with database_errors("effect records"), self.engine.connect() as conn:
            return conn.execute(_select(operation, idempotency_key)).scalar()

    def record(self, operation: str, idempotency_key: str, result: Any) -> Any:
        """Store `result` unless a record exists; the record that stands (JSON)."""
        row = {
            "operation": operation,
            "idempotency_key": idempotency_key,
            "result": result,
            "recorded_at": datetime.now(UTC),
        }
        insert = upsert(self.engine, records).values(**row).on_conflict_do_nothing()
        with database_errors("effect records"), writing(self.engine) as conn:
            while True:
                if conn.execute(insert.returning(records.c.operation)).first() is not None:
                    return result
                stored = conn.execute(_select(operation, idempotency_key)).scalar()
                if stored is not None:
                    return stored
                # The record that stood was pruned in between (orchestrator.retention): insert.


def _select(operation: str, idempotency_key: str) -> sa.Select[tuple[Any]]:
    return sa.select(records.c.result).where(
        records.c.operation == operation, records.c.idempotency_key == idempotency_key
    )

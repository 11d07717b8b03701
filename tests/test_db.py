"""`db.quick_read`, `db.writing` and `db.database_unavailable`, on both backends."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from orchestrator import db


async def test_quick_reads_stay_on_the_loop_for_sqlite_only(db_url: str) -> None:
    engine = db.make_engine(db_url)
    try:

        def read(value: int) -> tuple[int, int]:
            with engine.connect() as conn:
                return threading.get_ident(), int(
                    conn.execute(sa.text("SELECT :v"), {"v": value}).scalar_one()
                )

        ran_on, value = await db.quick_read(engine, read, 41)
        assert value == 41
        on_loop = ran_on == threading.get_ident()
        assert on_loop is (engine.dialect.name == "sqlite")
    finally:
        engine.dispose()


def test_writers_in_one_process_take_turns(db_url: str) -> None:
    """Two threads' read-then-write transactions never interleave (SQLite would otherwise
    refuse the second with 'database is locked' the moment the first commits)."""
    engine = db.make_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE counter (n INTEGER NOT NULL)"))
            conn.execute(sa.text("INSERT INTO counter VALUES (0)"))

        def bump() -> None:
            for _ in range(25):
                with db.writing(engine, serialise=True) as conn:
                    n = conn.execute(sa.text("SELECT n FROM counter")).scalar_one()
                    conn.execute(sa.text("UPDATE counter SET n = :n"), {"n": n + 1})

        threads = [threading.Thread(target=bump) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT n FROM counter")).scalar_one() == 100
    finally:
        engine.dispose()


def test_a_database_error_is_one_line_and_a_missing_table_names_the_fix(db_url: str) -> None:
    engine = db.make_engine(db_url)
    try:
        with pytest.raises(db.DATABASE_ERRORS) as missing, engine.connect() as conn:
            conn.execute(sa.text("SELECT n FROM no_such_table"))
        assert db.database_unavailable(missing.value, "widget store").detail == (
            "the widget store has no schema yet: run `firebreak db upgrade`"
        )
        with pytest.raises(db.DATABASE_ERRORS) as broken, engine.connect() as conn:
            conn.execute(sa.text("SELEC 1"))
        detail = db.database_unavailable(broken.value, "widget store").detail
        assert detail.startswith("widget store unavailable: ") and "SELEC" in detail
        assert "\n" not in detail
    finally:
        engine.dispose()

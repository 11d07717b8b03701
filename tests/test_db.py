"""`db.quick_read`, `db.writing`, `db.single_statement` and `db.database_unavailable`."""

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


def _terminate_others(engine: sa.Engine) -> int:
    """Kill every backend of `engine`'s pool, from a connection of its own."""
    killer = sa.create_engine(engine.url, poolclass=sa.pool.NullPool)
    with killer.connect() as conn:
        killed = conn.execute(
            sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar_one()
    killer.dispose()
    return int(killed)


def test_a_single_statement_commits_alone_and_leaves_the_connection_transactional(
    pg_url: str,
) -> None:
    """The statement is committed though nothing commits it, and the pooled connection it
    used goes back to the pool as SQLAlchemy hands it out: in transactions, so a later
    rollback really rolls back."""
    engine = db.make_engine(pg_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE t (n integer PRIMARY KEY)"))
        assert db.single_statement(engine, "INSERT INTO t VALUES (1) RETURNING n", {}) == 1
        assert db.single_statement(engine, "SELECT count(*) FROM t WHERE n > %(n)s", {"n": 5}) == 0
        with engine.connect() as conn:
            conn.execute(sa.text("INSERT INTO t VALUES (2)"))
            conn.rollback()
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT array_agg(n) FROM t")).scalar_one() == [1]
        assert engine.pool.checkedin() == 1  # one connection served all of it
    finally:
        engine.dispose()


def test_a_single_statements_errors_are_sqlalchemys_with_parameters_hidden(pg_url: str) -> None:
    engine = db.make_engine(pg_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE t (n integer PRIMARY KEY, s text)"))
        insert = "INSERT INTO t VALUES (%(n)s, %(s)s) RETURNING n"
        db.single_statement(engine, insert, {"n": 1, "s": "x"})
        with pytest.raises(sa.exc.IntegrityError) as clash:
            db.single_statement(engine, insert, {"n": 1, "s": "hunter2-secret"})
        assert not clash.value.connection_invalidated
        assert "hunter2-secret" not in str(clash.value)
        with pytest.raises(db.DATABASE_ERRORS) as broken:
            db.single_statement(engine, "SELEC %(n)s", {"n": 1})
        assert "SELEC" in db.database_unavailable(broken.value, "widget store").detail
        # The failures left the connection usable, and in transactions again.
        assert db.single_statement(engine, insert, {"n": 2, "s": "y"}) == 2
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM t")).scalar_one() == 2
    finally:
        engine.dispose()


def test_a_single_statement_on_a_killed_connection_invalidates_it(pg_url: str) -> None:
    """Killed after its last use and handed out again without a ping: the statement fails
    once, says the connection was invalidated, and the pool's next one works."""
    engine = db.make_engine(pg_url, ping_after_idle=60)
    try:
        assert db.single_statement(engine, "SELECT 1", {}) == 1
        assert _terminate_others(engine) == 1
        with pytest.raises(sa.exc.OperationalError) as dead:
            db.single_statement(engine, "SELECT 2", {})
        assert dead.value.connection_invalidated
        assert db.single_statement(engine, "SELECT 3", {}) == 3
    finally:
        engine.dispose()


def test_a_single_statement_is_for_postgresql(sqlite_url: str) -> None:
    engine = db.make_engine(sqlite_url)
    try:
        with pytest.raises(TypeError, match="writing"):
            db.single_statement(engine, "SELECT 1", {})
    finally:
        engine.dispose()

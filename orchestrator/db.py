"""Database engines and schema migrations, shared by every process that touches the store.

SQLite is tuned here once (WAL so readers never block the writer, a busy timeout instead of
instant "database is locked", foreign keys on) and its transactions are begun explicitly, so a
connection can ask for ``BEGIN IMMEDIATE`` (the write lock up front) with the execution option
``sqlite_begin="IMMEDIATE"``; that is how the event store serialises appends on SQLite.
Alembic is driven programmatically so `firebreak db upgrade` and tests need no working directory.
A database that cannot answer is reported the same way by every store (`database_unavailable`).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import anyio
import sqlalchemy
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, event
from sqlalchemy.dialects.postgresql import Insert as PostgresInsert
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    DisconnectionError,
    OperationalError,
    ProgrammingError,
)

from orchestrator.errors import ConfigError, InvalidInput, Unavailable

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
PING_AFTER_IDLE_SECONDS = 1.0
"""A pooled PostgreSQL connection idle longer than this is pinged before it is handed out."""


def make_engine(url: str, *, ping_after_idle: float = PING_AFTER_IDLE_SECONDS) -> sqlalchemy.Engine:
    """An engine for `url`; SQLite gets WAL, a busy timeout, foreign keys and explicit BEGINs,
    PostgreSQL a pool that pings connections idle longer than `ping_after_idle` seconds."""
    parsed = _parse(url)
    if parsed.get_backend_name() != "sqlite":
        return _ping_when_idle(sqlalchemy.create_engine(url), ping_after_idle)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sqlalchemy.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def make_autocommit_engine(url: str) -> sqlalchemy.Engine:
    """An engine for single-statement writes whose loss in a crash costs nothing that matters
    (a rate-limit budget): on PostgreSQL each statement commits on its own, one round trip,
    without waiting for the WAL flush (`synchronous_commit=off`); on SQLite, whose commits
    are cheap and whose writers must queue (`writing`), the ordinary engine."""
    parsed = _parse(url)
    if parsed.get_backend_name() == "sqlite":
        return make_engine(url)
    engine = sqlalchemy.create_engine(
        url, isolation_level="AUTOCOMMIT", connect_args={"options": "-c synchronous_commit=off"}
    )
    return _ping_when_idle(engine, PING_AFTER_IDLE_SECONDS)


def _ping_when_idle(engine: sqlalchemy.Engine, seconds: float) -> sqlalchemy.Engine:
    """Ping a pooled connection before handing it out only when it has been idle `seconds`.

    SQLAlchemy's `pool_pre_ping` pings on every checkout: one more round trip for every
    statement of a process that writes one statement at a time (an audit append is a single
    call), a tenth of a single-event append's time (docs/benchmarks.md, "Audit store"). A
    connection handed back moments ago is as alive as a ping would show; one left idle is
    what a restart, failover or idle timeout kills, and it is still pinged and replaced. A
    connection that dies within the window fails its statement once and SQLAlchemy drops
    the pool's connections of that age (callers report `Unavailable` and retry; the audit
    store retries its append itself, once)."""

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.pop("idle_since", None)
        if idle_since is None or time.monotonic() - idle_since < seconds:
            return  # new, or back in the pool moments ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # any failure of the ping means: use another connection
            raise DisconnectionError(
                f"pooled connection failed its ping: {type(exc).__name__}"
            ) from None

    return engine


P = ParamSpec("P")
T = TypeVar("T")


async def quick_read(
    engine: sqlalchemy.Engine, read: Callable[P, T], *args: P.args, **kwargs: P.kwargs
) -> T:
    """Run a short, indexed read on the event loop for SQLite, in a worker thread otherwise.

    A SQLite read in WAL mode never waits for a writer and takes a fraction of a millisecond,
    less than the thread hop itself costs once the loop and the pool's threads compete for the
    GIL (the alert path's figures: docs/benchmarks.md). A PostgreSQL read is a network round
    trip and always goes to a thread.
    """
    call = partial(read, *args, **kwargs)
    if engine.dialect.name == "sqlite":
        return call()
    return await anyio.to_thread.run_sync(call)


DATABASE_ERRORS = (OperationalError, ProgrammingError)
"""What a database that cannot answer raises: unreachable, locked, or without the schema."""

_MISSING_TABLE = "42P01"  # PostgreSQL's undefined_table; SQLite only says so in words


def database_unavailable(exc: DBAPIError, what: str) -> Unavailable:
    """The 503 for one of `DATABASE_ERRORS` met while using `what` (say "audit store"): one line
    from the driver, or, when a table is missing, the fix, the common case after an install or
    an upgrade that skipped the migrations. Callers raise it `from None`: the driver's
    traceback would only repeat the line."""
    orig = exc.orig
    if getattr(orig, "sqlstate", None) == _MISSING_TABLE or "no such table" in str(orig):
        return Unavailable(f"the {what} has no schema yet: run `firebreak db upgrade`")
    return Unavailable(f"{what} unavailable: {_first_line(orig)}")


def run_on(
    engine: sqlalchemy.Engine,
    work: Callable[[Connection], T],
    what: str,
    *,
    write: bool = False,
) -> T:
    """`work` on a connection (in a write transaction with `write`, see `writing`), a
    database that cannot answer reported as the 503 for `what`."""
    try:
        with writing(engine) if write else engine.connect() as conn:
            return work(conn)
    except DATABASE_ERRORS as exc:
        raise database_unavailable(exc, what) from None


_write_locks: dict[str, threading.RLock] = {}
_write_locks_guard = threading.Lock()


def write_lock(engine: sqlalchemy.Engine) -> threading.RLock:
    """This process's lock for writers to `engine`'s database, shared by every engine on it."""
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        url = url.set(database=str(Path(str(url.database)).resolve()))
    key = url.render_as_string(hide_password=True)
    with _write_locks_guard:
        return _write_locks.setdefault(key, threading.RLock())


@contextmanager
def writing(engine: sqlalchemy.Engine, *, serialise: bool = False) -> Iterator[Connection]:
    """A write transaction that queues behind this process's other writers to the database.

    On SQLite every writer takes the lock and `BEGIN IMMEDIATE`: one writer at a time is all
    SQLite allows, and a waiter on the lock starts the moment the last commit ends, where
    SQLite's own busy handler would have it sleep and poll. On PostgreSQL writers run in
    parallel unless `serialise` says they would only queue on one row lock anyway.
    """
    sqlite = engine.dialect.name == "sqlite"
    lock = write_lock(engine) if sqlite or serialise else contextlib.nullcontext()
    with lock, engine.connect() as conn:
        if sqlite:
            conn.execution_options(sqlite_begin="IMMEDIATE")
        with conn.begin():
            yield conn


def single_statement(
    engine: sqlalchemy.Engine,
    statement: str,
    params: dict[str, Any],
    *,
    serialise: bool = False,
    prepare: Callable[[Any], None] | None = None,
) -> Any:
    """The one value of one PostgreSQL statement that does a whole write (a server-side
    function), committed on its own: autocommit, so no BEGIN and no COMMIT to wait for, one
    round trip, with the usual durable commit (unlike `make_autocommit_engine`). `serialise`
    queues behind this process's other writers, as in `writing`; `prepare` is given the
    driver's connection first (to register adapters the parameters need).

    It runs on the pool's driver connection, not through a SQLAlchemy `Connection`, whose
    execution context, result wrapping and isolation level set and reset around every
    checkout cost about half the client CPU of a short call (docs/benchmarks.md, "Audit
    store"). What SQLAlchemy would have done with a failure is done here: the driver's error
    comes out as SQLAlchemy's own (`IntegrityError`, `OperationalError`, …, parameters
    hidden), and a connection found dead is invalidated, so the pool replaces it, and says so
    (`connection_invalidated`)."""
    if engine.dialect.name == "sqlite":
        raise TypeError("single_statement is for PostgreSQL; SQLite writers use writing()")
    lock = write_lock(engine) if serialise else contextlib.nullcontext()
    with lock:
        pooled = engine.raw_connection()
        driver: Any = pooled.driver_connection
        try:
            if prepare is not None:
                prepare(driver)
            driver.autocommit = True
            try:
                row = driver.execute(statement, params).fetchone()
            finally:
                if not (driver.closed or driver.broken):
                    driver.autocommit = False
        except engine.dialect.loaded_dbapi.Error as exc:
            dead = engine.dialect.is_disconnect(exc, driver, None)
            if dead:
                pooled.invalidate(exc)
            raise sqlalchemy.exc.DBAPIError.instance(
                statement,
                params,
                exc,
                engine.dialect.loaded_dbapi.Error,
                hide_parameters=True,
                connection_invalidated=dead,
                dialect=engine.dialect,
            ) from exc
        finally:
            pooled.close()
    return row[0] if row is not None else None


def upsert(engine: sqlalchemy.Engine, table: sqlalchemy.Table) -> PostgresInsert | SqliteInsert:
    """An INSERT on `table` with the dialect's ``ON CONFLICT`` clauses (both backends spell
    them alike, but SQLAlchemy keeps them on each dialect's own construct)."""
    if engine.dialect.name == "sqlite":
        return sqlite_insert(table)
    return postgresql_insert(table)


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself instead of pysqlite's implicit one.
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_on_begin(conn: sqlalchemy.Connection) -> None:
    mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


def _alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _run(url: str, action: str, revision: str) -> None:
    if action != "upgrade" and _missing_sqlite_file(_parse(url)):
        raise DatabaseNotReady(f"no database at {_parse(url).database}: nothing to {action}")
    config = _alembic_config(url)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            getattr(command, action)(config, revision)
    except CommandError as exc:
        raise InvalidInput(f"cannot {action} to {revision!r}: {_first_line(exc)}") from None
    except KeyError as exc:
        raise _broken_chain(exc) from None
    except OperationalError as exc:
        raise DatabaseNotReady(f"database unreachable: {_first_line(exc.orig)}") from None
    finally:
        engine.dispose()


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the schema at `url` up to `revision`."""
    _run(url, "upgrade", revision)


def downgrade(url: str, revision: str) -> None:
    """Migrate the schema at `url` down to `revision` (``"base"`` removes everything)."""
    _run(url, "downgrade", revision)


class DatabaseNotReady(ConfigError):
    """The configured database cannot serve this version: missing, unreachable, or its schema
    is not the one the code ships. One line with the fix; `firebreak` exits 2 on it."""


def require_schema(url: str) -> None:
    """Check, creating nothing, that `url` is a reachable database at the head revision.

    Every process that uses the store runs it first (`firebreak api`, `worker`, and the
    commands that read the database), so a start before `firebreak db upgrade` says so in one
    line instead of failing later on a missing table. A SQLite file that does not exist is
    reported, not created (nor its directory).
    """
    parsed = _parse(url)
    shown = parsed.render_as_string(hide_password=True)
    if _missing_sqlite_file(parsed):
        raise DatabaseNotReady(
            f"no database at {parsed.database}: run `firebreak db upgrade` to create it"
        )
    try:
        engine = make_engine(url)
    except Exception as exc:  # a driver that is not installed, a bad option in the URL
        raise ConfigError(
            f"FIREBREAK_DATABASE_URL: cannot use {shown}: {_first_line(exc)}"
        ) from None
    try:
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
    except DBAPIError as exc:
        raise DatabaseNotReady(f"database {shown} unreachable: {_first_line(exc.orig)}") from None
    finally:
        engine.dispose()
    head = head_revision()
    if current is None:
        raise DatabaseNotReady(f"database {shown} has no schema yet: run `firebreak db upgrade`")
    if current != head:
        if current not in known_revisions():
            raise DatabaseNotReady(
                f"database {shown} is at revision {current}, which this version does not "
                f"know (its newest is {head}): run a newer firebreak"
            )
        raise DatabaseNotReady(
            f"database {shown} is at revision {current}, this version needs {head}: "
            "run `firebreak db upgrade`"
        )


def _parse(url: str) -> URL:
    try:
        return make_url(url)
    except ArgumentError:
        raise ConfigError(f"FIREBREAK_DATABASE_URL: not a database URL: {url!r}") from None


def _missing_sqlite_file(url: URL) -> bool:
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return False
    return not Path(str(url.database)).is_file()


def current_revision(url: str) -> str | None:
    """The revision the database at `url` is on, or None before the first migration (and for
    a SQLite file that does not exist, which is not created)."""
    if _missing_sqlite_file(_parse(url)):
        return None
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except OperationalError as exc:
        raise DatabaseNotReady(f"database unreachable: {_first_line(exc.orig)}") from None
    finally:
        engine.dispose()


def head_revision() -> str | None:
    """The newest revision the code ships."""
    try:
        return _scripts().get_current_head()
    except KeyError as exc:
        raise _broken_chain(exc) from None


def known_revisions() -> frozenset[str]:
    """Every revision the code ships."""
    return frozenset(r.revision for r in _scripts().walk_revisions())


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(_alembic_config("sqlite://"))


def _broken_chain(exc: KeyError) -> ConfigError:
    """Alembic raises a bare KeyError when a revision names a missing predecessor."""
    return ConfigError(f"migrations are inconsistent: revision {exc.args[0]!r} is missing")


def _first_line(exc: BaseException | None) -> str:
    if exc is None:
        return "unknown error"
    return (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]

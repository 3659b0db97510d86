"""Engine, migrations and the unit of work.

SQLite runs in WAL mode with ``BEGIN IMMEDIATE`` transactions: a read-then-write (re-entry, paying)
takes the write lock up front, so two concurrent requests cannot both see "no order yet". PostgreSQL
gets the same guarantee from row locks (``SELECT ... FOR UPDATE``) and the unique constraints.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event, inspect, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.pool import QueuePool

MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # let SQLAlchemy's begin event issue BEGIN IMMEDIATE
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            # A read (Store.read) takes a snapshot without the write lock; WAL readers never wait.
            conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(_READ) else "BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (runs at every start). When the store is already there
    Alembic is not even imported: loading it and its scripts was a tenth of a cold start."""
    with engine.connect() as conn:
        if inspect(conn).has_table("alembic_version"):
            current = {row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))}
            if current == {head_revision()}:
                return
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


_REVISION = re.compile(r"""^(down_revision|revision)(?:: [^=]+)? = (None|["']([^"']+)["'])$""", re.MULTILINE)


def head_revision() -> str:
    """The newest revision, read from the scripts' ``revision``/``down_revision`` lines (the one no
    other script names as its parent). tests/unit/storage/test_db.py checks it against Alembic's own."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in (MIGRATIONS / "versions").glob("*.py"):
        if script.name.startswith("__"):
            continue
        found = _REVISION.findall(script.read_text(encoding="utf-8"))
        if not any(kind == "revision" for kind, _value, _name in found):
            raise RuntimeError(f"{script.name}: no `revision = ...` line that head_revision() can read")
        for kind, _value, name in found:
            if name:
                (revisions if kind == "revision" else parents).add(name)
    heads = revisions - parents
    if len(heads) != 1:
        raise RuntimeError(f"the migrations have {len(heads)} heads: {sorted(heads)}")
    return heads.pop()


_AFTER_COMMIT = "wxpay_emulator.after_commit"
_READ = "wxpay_emulator_read"


def after_commit(conn: Connection, callback: Callable[[], None]) -> None:
    """Run ``callback`` once the transaction of ``conn`` has committed (never if it rolls back):
    e.g. wake the notification dispatcher only when the outbox row is visible to it."""
    conn.info[_AFTER_COMMIT].append(callback)


class Store:
    """Owns the engine; ``transaction()`` is the unit of work: it commits once, or rolls back."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        # SQLite has one writer at a time and its busy handler sleeps in steps of up to 100 ms, which
        # made the p99 of concurrent creates ~190 ms; queueing on a lock in this process instead costs
        # nothing (every transaction is BEGIN IMMEDIATE anyway). Another process sharing the file still
        # gets the busy handler. PostgreSQL needs no such lock.
        self._lock: threading.Lock | None = threading.Lock() if self.engine.dialect.name == "sqlite" else None
        # Whether the HTTP layer may call the store on the event loop (see api/calls.py).
        self.inline_calls = self._lock is not None
        self._disposed = False

        @event.listens_for(self.engine.pool, "checkin")
        def _close_after_dispose(dbapi_conn: Any, record: Any) -> None:
            # A connection given back after dispose() (a worker thread that outlived the server)
            # is closed, not parked in a pool nobody will close; invalidated, so that a store used
            # again after dispose() opens a fresh one instead of finding it closed.
            if self._disposed and dbapi_conn is not None:
                record.invalidate()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One unit of work. Callbacks registered with :func:`after_commit` run once it has committed."""
        callbacks: list[Callable[[], None]] = []
        if self._lock is None:
            with self.engine.begin() as conn:
                conn.info[_AFTER_COMMIT] = callbacks
                try:
                    yield conn
                finally:
                    conn.info.pop(_AFTER_COMMIT, None)
        else:
            with self._lock, self.engine.begin() as conn:
                conn.info[_AFTER_COMMIT] = callbacks
                try:
                    yield conn
                finally:
                    conn.info.pop(_AFTER_COMMIT, None)
        for callback in callbacks:
            callback()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only unit of work: a consistent snapshot that neither takes SQLite's write lock
        nor queues on this process's lock (cheap enough to run on every request)."""
        with self.engine.connect() as conn:
            conn.execution_options(**{_READ: True})
            with conn.begin():
                yield conn

    def dispose(self, wait_seconds: float = 5.0) -> None:
        """Close every connection: waits (bounded) for those still checked out to come back."""
        pool = self.engine.pool
        deadline = time.monotonic() + wait_seconds
        while isinstance(pool, QueuePool) and pool.checkedout() > 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        self._disposed = True
        self.engine.dispose()


def insert_or(
    conn: Connection,
    table: Table,
    keys: list[str],
    values: Mapping[str, Any],
    update: Mapping[str, Any] | None = None,
) -> bool:
    """INSERT ... ON CONFLICT (keys) DO UPDATE SET ``update`` (or DO NOTHING): one statement, so two
    concurrent first writers end in an update or a no-op, never an IntegrityError (PostgreSQL and
    SQLite spell it alike). True if a row was inserted or updated."""
    upsert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    statement = upsert(table).values(**values)
    if update:
        statement = statement.on_conflict_do_update(index_elements=keys, set_=dict(update))
    else:
        statement = statement.on_conflict_do_nothing(index_elements=keys)
    # RETURNING, not rowcount: psycopg counts a row for an ON CONFLICT DO NOTHING that did nothing.
    return conn.execute(statement.returning(*(table.c[k] for k in keys))).first() is not None

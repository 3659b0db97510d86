"""Serialised first start: migrations and seeding run in one process at a time.

Any number of emulator processes (``serve --workers N``, or several hosts on one PostgreSQL database)
may start together on a fresh store. Without a lock, two Alembic runs race on ``alembic_version`` and
two first starts both create the default merchant. PostgreSQL: a session-level advisory lock, which
holds across hosts. SQLite: an ``fcntl`` lock on a file beside the database (every process sharing a
SQLite file is on the same host).
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text

# Any constant: the advisory lock's key, shared by every emulator process on the database.
ADVISORY_KEY = 0x77787061_7973  # "wxpays"


@contextmanager
def startup_lock(engine: Engine) -> Iterator[None]:
    """Hold the store's startup lock for the duration of the block (waits for other processes)."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_KEY})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_KEY})
                conn.commit()
        return
    database = engine.url.database
    if not database or database == ":memory:":  # private to this process: nothing to serialise
        yield
        return
    path = Path(database).with_name(Path(database).name + ".startup-lock")
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)

"""The Alembic migrations build exactly the schema of tables.py, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from wxpay_emulator.config import Settings
from wxpay_emulator.storage.db import Store, after_commit, migrate
from wxpay_emulator.storage.tables import metadata

pytestmark = pytest.mark.both_databases


def test_migrations_match_tables(settings: Settings) -> None:
    store = Store(settings.resolved_database_url())
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        migrate(store.engine)
        migrate(store.engine)  # idempotent at every start
        with store.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert diff == []
    finally:
        store.dispose()


def test_after_commit_runs_only_after_a_commit(store: Store) -> None:
    seen: list[str] = []
    with store.transaction() as conn:
        after_commit(conn, lambda: seen.append("committed"))
        assert seen == []
    assert seen == ["committed"]
    with pytest.raises(RuntimeError), store.transaction() as conn:
        after_commit(conn, lambda: seen.append("rolled back"))
        raise RuntimeError
    assert seen == ["committed"]


def test_a_connection_given_back_after_dispose_is_closed(store: Store) -> None:
    """A worker thread that outlives the server gives its connection back to a disposed pool: it is
    closed then, not left open for the garbage collector (a ResourceWarning, and on PostgreSQL a
    session held open until the process ends)."""
    conn = store.engine.connect()
    raw = conn.connection.dbapi_connection
    store.dispose(wait_seconds=0.05)  # waits (bounded) for it, then disposes without it
    conn.close()
    with pytest.raises(Exception, match=r"(?i)closed"):
        raw.cursor().execute("SELECT 1")  # type: ignore[union-attr]
    with store.read() as again:  # the store still works after dispose(): a fresh connection
        assert again.exec_driver_sql("SELECT 1").scalar() == 1


def test_the_head_read_from_the_scripts_is_alembics() -> None:
    """migrate() skips Alembic when the store is at head_revision(): it must be Alembic's own head."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from wxpay_emulator.storage.db import MIGRATIONS, head_revision

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    assert [head_revision()] == ScriptDirectory.from_config(cfg).get_heads()

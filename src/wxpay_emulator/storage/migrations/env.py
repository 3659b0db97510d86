"""Alembic environment: the emulator hands in its own connection (see storage.db.migrate)."""

from __future__ import annotations

from alembic import context

from wxpay_emulator.storage.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()

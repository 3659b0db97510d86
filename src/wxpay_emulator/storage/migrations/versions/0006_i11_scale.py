"""Scale-out: a lease on each notification row, and armed faults in the store.

``claimed_by`` / ``lease_until`` let several processes share one outbox: a process claims due rows with
one statement, delivers them, and clears its claim when it records the attempt; a process that dies
mid-delivery loses its claim when the lease runs out (notify/dispatcher.py). Faults armed through the
control plane live in ``faults`` so every process sees them at once (api/faults.py).

Revision ID: 0006_i11_scale
Revises: 0005_i10_serials
"""

import sqlalchemy as sa
from alembic import op

from wxpay_emulator.storage.types import UTCDateTime

revision = "0006_i11_scale"
down_revision = "0005_i10_serials"


def upgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(64)))
        batch.add_column(sa.Column("lease_until", UTCDateTime))
    op.create_index("ix_notifications_created", "notifications", ["created_at", "id"])
    op.create_table(
        "faults",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("operation", sa.String(32), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
    )
    op.create_index("ix_faults_operation", "faults", ["operation", "id"])


def downgrade() -> None:
    op.drop_index("ix_faults_operation", table_name="faults")
    op.drop_table("faults")
    op.drop_index("ix_notifications_created", table_name="notifications")
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("claimed_by")

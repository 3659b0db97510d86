"""The request journal.

Revision ID: 0007_journal
Revises: 0006_i11_scale
"""

import sqlalchemy as sa
from alembic import op

from wxpay_emulator.storage.types import UTCDateTime

revision = "0007_journal"
down_revision = "0006_i11_scale"


def upgrade() -> None:
    op.create_table(
        "journal",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("time", UTCDateTime, nullable=False),
        sa.Column("family", sa.String(16), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("query", sa.Text, nullable=False),
        sa.Column("mchid", sa.String(64)),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("code", sa.String(64)),
        sa.Column("duration_ms", sa.Float, nullable=False),
        sa.Column("sign_check", sa.Text),
        sa.Column("request_headers", sa.Text, nullable=False),
        sa.Column("request_body", sa.Text, nullable=False),
        sa.Column("response_headers", sa.Text, nullable=False),
        sa.Column("response_body", sa.Text, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_journal_mchid", "journal", ["mchid", "id"])


def downgrade() -> None:
    op.drop_index("ix_journal_mchid", table_name="journal")
    op.drop_table("journal")

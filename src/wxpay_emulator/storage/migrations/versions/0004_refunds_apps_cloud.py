"""Refunds, Mini Program accounts and payers, access tokens, cloud callback endpoints.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from wxpay_emulator.storage.types import UTCDateTime

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.create_table(
        "refunds",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("refund_id", sa.String(32), nullable=False),
        sa.Column("order_id", sa.Integer, sa.ForeignKey("orders.id", ondelete="CASCADE"), nullable=False),
        sa.Column("mchid", sa.String(32), nullable=False),
        sa.Column("sp_mchid", sa.String(32)),
        sa.Column("out_refund_no", sa.String(64), nullable=False),
        sa.Column("family", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(80)),
        sa.Column("notify_url", sa.String(256)),
        sa.Column("funds_account", sa.String(32)),
        sa.Column("refund", sa.Integer, nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("currency", sa.String(16), nullable=False),
        sa.Column("extras", sa.Text, nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("user_received_account", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("success_time", UTCDateTime),
        sa.Column("due_at", UTCDateTime),
        sa.UniqueConstraint("mchid", "out_refund_no", name="uq_refunds_mchid_out_refund_no"),
        sa.UniqueConstraint("refund_id", name="uq_refunds_refund_id"),
    )
    op.create_index("ix_refunds_order_id", "refunds", ["order_id"])
    op.create_index("ix_refunds_due", "refunds", ["status", "due_at"])
    op.create_table(
        "apps",
        sa.Column("appid", sa.String(32), primary_key=True),
        sa.Column("secret", sa.String(32), nullable=False),
        sa.Column("open_account", sa.String(32)),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "payer_openids",
        sa.Column("appid", sa.String(32), primary_key=True),
        sa.Column("openid", sa.String(128), primary_key=True),
        sa.Column("user_id", sa.String(32), nullable=False),
    )
    op.create_index("ix_payer_openids_user_id", "payer_openids", ["user_id"])
    op.create_table(
        "access_tokens",
        sa.Column("token", sa.String(256), primary_key=True),
        sa.Column("appid", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_access_tokens_appid", "access_tokens", ["appid"])
    op.create_table(
        "cloud_endpoints",
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("env_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("url", sa.String(256), nullable=False),
    )

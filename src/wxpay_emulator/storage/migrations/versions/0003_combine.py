"""Combine (合单) orders: one prepay for 2-10 sub-orders, each an order of its own merchant.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from wxpay_emulator.storage.types import UTCDateTime

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.create_table(
        "combine_orders",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("combine_mchid", sa.String(32), nullable=False),
        sa.Column("combine_appid", sa.String(32), nullable=False),
        sa.Column("combine_out_trade_no", sa.String(32), nullable=False),
        sa.Column("trade_type", sa.String(16), nullable=False),
        sa.Column("notify_url", sa.String(256), nullable=False),
        sa.Column("payer_openid", sa.String(128)),
        sa.Column("extras", sa.Text, nullable=False),
        sa.Column("time_expire", UTCDateTime),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("prepay_id", sa.String(64), nullable=False),
        sa.Column("prepay_expires_at", UTCDateTime, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint(
            "combine_mchid", "combine_out_trade_no", name="uq_combine_orders_mchid_out_trade_no"
        ),
        sa.UniqueConstraint("prepay_id", name="uq_combine_orders_prepay_id"),
    )
    with op.batch_alter_table("orders") as batch:
        batch.alter_column("prepay_id", existing_type=sa.String(64), nullable=True)
        batch.alter_column("prepay_expires_at", existing_type=UTCDateTime, nullable=True)
        batch.add_column(sa.Column("combine_id", sa.Integer))
        batch.create_foreign_key(
            "fk_orders_combine_id", "combine_orders", ["combine_id"], ["id"], ondelete="CASCADE"
        )

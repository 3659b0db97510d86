"""Initial schema: merchants, their appids, orders, the notification outbox and its attempts.

A migration is a frozen record of one step: it spells the tables out rather than reading tables.py,
so a later change of tables.py comes with a migration of its own (tests/unit/test_storage.py checks).

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from wxpay_emulator.storage.types import UTCDateTime

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "merchants",
        sa.Column("mchid", sa.String(32), primary_key=True),
        sa.Column("appid", sa.String(32), nullable=False),
        sa.Column("key_mode", sa.String(8), nullable=False),
        sa.Column("serial_no", sa.String(64), nullable=False),
        sa.Column("apiv3_key", sa.String(32), nullable=False),
        sa.Column("api_key", sa.String(32), nullable=False),
        sa.Column("merchant_key_pem", sa.LargeBinary, nullable=False),
        sa.Column("merchant_cert_pem", sa.LargeBinary, nullable=False),
        sa.Column("platform_key_pem", sa.LargeBinary, nullable=False),
        sa.Column("platform_cert_pem", sa.LargeBinary, nullable=False),
        sa.Column("platform_serial", sa.String(64), nullable=False),
        sa.Column("pubkey_key_pem", sa.LargeBinary, nullable=False),
        sa.Column("pubkey_pem", sa.LargeBinary, nullable=False),
        sa.Column("pub_key_id", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "merchant_apps",
        sa.Column(
            "mchid", sa.String(32), sa.ForeignKey("merchants.mchid", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("appid", sa.String(32), primary_key=True),
    )
    op.create_table(
        "orders",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("mchid", sa.String(32), nullable=False),
        sa.Column("appid", sa.String(32), nullable=False),
        sa.Column("out_trade_no", sa.String(32), nullable=False),
        sa.Column("trade_type", sa.String(16), nullable=False),
        sa.Column("family", sa.String(16), nullable=False),
        sa.Column("description", sa.String(127), nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("currency", sa.String(16), nullable=False),
        sa.Column("notify_url", sa.String(256), nullable=False),
        sa.Column("attach", sa.String(128)),
        sa.Column("goods_tag", sa.String(32)),
        sa.Column("payer_openid", sa.String(128)),
        sa.Column("extras", sa.Text, nullable=False),
        sa.Column("time_expire", UTCDateTime),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("state_desc", sa.String(256)),
        sa.Column("prepay_id", sa.String(64), nullable=False),
        sa.Column("prepay_expires_at", UTCDateTime, nullable=False),
        sa.Column("transaction_id", sa.String(32)),
        sa.Column("bank_type", sa.String(32)),
        sa.Column("success_time", UTCDateTime),
        sa.Column("payer_total", sa.Integer),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("mchid", "out_trade_no", name="uq_orders_mchid_out_trade_no"),
        sa.UniqueConstraint("transaction_id", name="uq_orders_transaction_id"),
        sa.UniqueConstraint("prepay_id", name="uq_orders_prepay_id"),
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("mchid", sa.String(32), nullable=False),
        sa.Column("order_id", sa.Integer, sa.ForeignKey("orders.id", ondelete="CASCADE")),
        sa.Column("event_type", sa.String(32), nullable=False),
        sa.Column("family", sa.String(16), nullable=False),
        sa.Column("url", sa.String(256), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", UTCDateTime),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("delivered_at", UTCDateTime),
    )
    op.create_index("ix_notifications_due", "notifications", ["status", "next_attempt_at"])
    op.create_table(
        "notification_attempts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "notification_id",
            sa.String(64),
            sa.ForeignKey("notifications.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("attempted_at", UTCDateTime, nullable=False),
        sa.Column("request_headers", sa.Text, nullable=False),
        sa.Column("response_status", sa.Integer),
        sa.Column("response_body", sa.Text, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("duration_ms", sa.Float, nullable=False),
        sa.Column("acknowledged", sa.Boolean, nullable=False),
    )
    op.create_index("ix_notification_attempts_notification_id", "notification_attempts", ["notification_id"])
    op.create_table(
        "emulator_state",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )

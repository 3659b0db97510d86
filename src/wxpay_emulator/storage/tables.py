"""The schema. Alembic migrations in ``migrations/versions`` create exactly this; a test compares them."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from wxpay_emulator.storage.types import UTCDateTime

metadata = MetaData()

merchants = Table(
    "merchants",
    metadata,
    Column("mchid", String(32), primary_key=True),
    Column("appid", String(32), nullable=False),
    Column("key_mode", String(8), nullable=False),
    Column("serial_no", String(64), nullable=False),
    Column("apiv3_key", String(32), nullable=False),
    Column("api_key", String(32), nullable=False),
    Column("merchant_key_pem", LargeBinary, nullable=False),
    Column("merchant_cert_pem", LargeBinary, nullable=False),
    Column("platform_key_pem", LargeBinary, nullable=False),
    Column("platform_cert_pem", LargeBinary, nullable=False),
    Column("platform_serial", String(64), nullable=False),
    Column("pubkey_key_pem", LargeBinary, nullable=False),
    Column("pubkey_pem", LargeBinary, nullable=False),
    Column("pub_key_id", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sp_mchid", String(32)),
)

merchant_apps = Table(
    "merchant_apps",
    metadata,
    Column("mchid", String(32), ForeignKey("merchants.mchid", ondelete="CASCADE"), primary_key=True),
    Column("appid", String(32), primary_key=True),
)

orders = Table(
    "orders",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("mchid", String(32), nullable=False),
    Column("appid", String(32), nullable=False),
    Column("out_trade_no", String(32), nullable=False),
    Column("trade_type", String(16), nullable=False),
    Column("family", String(16), nullable=False),
    Column("description", String(127), nullable=False),
    Column("total", Integer, nullable=False),
    Column("currency", String(16), nullable=False),
    Column("notify_url", String(256), nullable=False),
    Column("attach", String(128)),
    Column("goods_tag", String(32)),
    Column("payer_openid", String(128)),
    Column("extras", Text, nullable=False),
    Column("time_expire", UTCDateTime),
    Column("fingerprint", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("state_desc", String(256)),
    # NULL for the sub-orders of a combine order: they are paid through the combine's prepay_id.
    Column("prepay_id", String(64)),
    Column("prepay_expires_at", UTCDateTime),
    Column("transaction_id", String(32)),
    Column("bank_type", String(32)),
    Column("success_time", UTCDateTime),
    Column("payer_total", Integer),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("sp_mchid", String(32)),
    Column("sub_appid", String(32)),
    Column("sub_openid", String(128)),
    Column("combine_id", Integer, ForeignKey("combine_orders.id", ondelete="CASCADE")),
    UniqueConstraint("mchid", "out_trade_no", name="uq_orders_mchid_out_trade_no"),
    UniqueConstraint("transaction_id", name="uq_orders_transaction_id"),
    UniqueConstraint("prepay_id", name="uq_orders_prepay_id"),
)

combine_orders = Table(
    "combine_orders",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("combine_mchid", String(32), nullable=False),
    Column("combine_appid", String(32), nullable=False),
    Column("combine_out_trade_no", String(32), nullable=False),
    Column("trade_type", String(16), nullable=False),
    Column("notify_url", String(256), nullable=False),
    Column("payer_openid", String(128)),
    Column("extras", Text, nullable=False),
    Column("time_expire", UTCDateTime),
    Column("fingerprint", String(64), nullable=False),
    Column("prepay_id", String(64), nullable=False),
    Column("prepay_expires_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("combine_mchid", "combine_out_trade_no", name="uq_combine_orders_mchid_out_trade_no"),
    UniqueConstraint("prepay_id", name="uq_combine_orders_prepay_id"),
)

notifications = Table(
    "notifications",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("mchid", String(32), nullable=False),
    Column("order_id", Integer, ForeignKey("orders.id", ondelete="CASCADE")),
    Column("event_type", String(32), nullable=False),
    Column("family", String(16), nullable=False),
    Column("url", String(256), nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("delivered_at", UTCDateTime),
    # The lease of the process delivering it (migration 0006_i11_scale): who, and until when (real time).
    Column("claimed_by", String(64)),
    Column("lease_until", UTCDateTime),
    Index("ix_notifications_due", "status", "next_attempt_at"),
    Index("ix_notifications_created", "created_at", "id"),
)

notification_attempts = Table(
    "notification_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "notification_id",
        String(64),
        ForeignKey("notifications.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("attempted_at", UTCDateTime, nullable=False),
    Column("request_headers", Text, nullable=False),
    Column("response_status", Integer),
    Column("response_body", Text, nullable=False),
    Column("error", Text),
    Column("duration_ms", Float, nullable=False),
    Column("acknowledged", Boolean, nullable=False),
)

settings_kv = Table(
    "emulator_state",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

# Refunds (migration 0004): several per order, their sum never above the paid total.
refunds = Table(
    "refunds",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("refund_id", String(32), nullable=False),
    Column("order_id", Integer, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("mchid", String(32), nullable=False),
    Column("sp_mchid", String(32)),
    Column("out_refund_no", String(64), nullable=False),
    Column("family", String(16), nullable=False),
    Column("reason", String(80)),
    Column("notify_url", String(256)),
    Column("funds_account", String(32)),
    Column("refund", Integer, nullable=False),
    Column("total", Integer, nullable=False),
    Column("currency", String(16), nullable=False),
    Column("extras", Text, nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("user_received_account", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("success_time", UTCDateTime),
    # When a PROCESSING refund succeeds by itself (emulator clock); NULL once it is final.
    Column("due_at", UTCDateTime),
    UniqueConstraint("mchid", "out_refund_no", name="uq_refunds_mchid_out_refund_no"),
    UniqueConstraint("refund_id", name="uq_refunds_refund_id"),
    Index("ix_refunds_due", "status", "due_at"),
)

# Mini Program accounts (migration 0004): the secret that buys an access_token, and the open-platform
# account that makes a unionid (NULL: not bound, getPaidUnionid answers 89002).
apps = Table(
    "apps",
    metadata,
    Column("appid", String(32), primary_key=True),
    Column("secret", String(32), nullable=False),
    Column("open_account", String(32)),
    Column("created_at", UTCDateTime, nullable=False),
)

# The simulated WeChat users: one person (user_id) has one openid per app.
payer_openids = Table(
    "payer_openids",
    metadata,
    Column("appid", String(32), primary_key=True),
    Column("openid", String(128), primary_key=True),
    Column("user_id", String(32), nullable=False, index=True),
)

access_tokens = Table(
    "access_tokens",
    metadata,
    Column("token", String(256), primary_key=True),
    Column("appid", String(32), nullable=False, index=True),
    Column("kind", String(8), nullable=False),  # "token" (/cgi-bin/token) or "stable"
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)

# Where cloud payment callbacks go: a container service (cloud hosting) or a cloud function, by env.
cloud_endpoints = Table(
    "cloud_endpoints",
    metadata,
    Column("kind", String(16), primary_key=True),  # "container" or "function"
    Column("env_id", String(64), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("url", String(256), nullable=False),
)

# Faults armed through the control plane (migration 0006_i11_scale): taken oldest first, by any process.
faults = Table(
    "faults",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("operation", String(32), nullable=False),
    Column("code", String(64), nullable=False),
    Column("message", Text, nullable=False),
    Index("ix_faults_operation", "operation", "id"),
)

"""Plain records of the domain. Amounts are integers in fen; times are aware UTC datetimes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from wxpay_emulator.domain.states import DESCRIPTIONS, TradeState


class KeyMode(StrEnum):
    """How the platform signs answers to this merchant: certificate serial or PUB_KEY_ID."""

    CERT = "cert"
    PUBKEY = "pubkey"


@dataclass(frozen=True)
class Merchant:
    mchid: str
    appid: str
    key_mode: KeyMode
    serial_no: str  # the merchant's API certificate serial
    apiv3_key: str
    api_key: str
    merchant_key_pem: bytes  # kept so the emulator can hand the merchant its material
    merchant_cert_pem: bytes
    platform_key_pem: bytes
    platform_cert_pem: bytes
    platform_serial: str
    pubkey_key_pem: bytes
    pubkey_pem: bytes
    pub_key_id: str
    appids: tuple[str, ...] = ()
    # A sub-merchant (特约商户 / 二级商户) names its service provider or platform here.
    sp_mchid: str | None = None

    def signing_identity(self) -> tuple[str, bytes]:
        """(Wechatpay-Serial, private key) the platform signs this merchant's answers with."""
        if self.key_mode is KeyMode.PUBKEY:
            return self.pub_key_id, self.pubkey_key_pem
        return self.platform_serial, self.platform_key_pem

    def is_bound(self, appid: str) -> bool:
        return appid == self.appid or appid in self.appids


@dataclass(frozen=True)
class OrderDraft:
    """What a merchant asks for when it places an order, in domain terms."""

    mchid: str
    appid: str
    out_trade_no: str
    trade_type: str  # JSAPI, APP, MWEB (H5), NATIVE
    description: str
    total: int
    currency: str
    notify_url: str
    family: str  # the API family that placed it; its notifications take that family's shape
    time_expire: dt.datetime | None = None
    attach: str | None = None
    goods_tag: str | None = None
    payer_openid: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)  # detail, scene_info, settle_info ... as given
    # Partner orders: mchid/appid above are the sub-merchant and the provider's appid (sp_appid).
    sp_mchid: str | None = None
    sub_appid: str | None = None
    sub_openid: str | None = None

    def fingerprint_fields(self) -> dict[str, Any]:
        """What must be identical for a re-entry to count as the same order (time_expire included)."""
        return {
            "appid": self.appid,
            "trade_type": self.trade_type,
            "description": self.description,
            "total": self.total,
            "currency": self.currency,
            "notify_url": self.notify_url,
            "time_expire": self.time_expire.isoformat() if self.time_expire else None,
            "attach": self.attach,
            "goods_tag": self.goods_tag,
            "payer_openid": self.payer_openid,
            "extras": self.extras,
            "sp_mchid": self.sp_mchid,
            "sub_appid": self.sub_appid,
            "sub_openid": self.sub_openid,
        }


@dataclass(frozen=True)
class Order:
    id: int
    mchid: str
    appid: str
    out_trade_no: str
    trade_type: str
    description: str
    total: int
    currency: str
    notify_url: str
    family: str
    state: TradeState
    created_at: dt.datetime
    time_expire: dt.datetime | None
    prepay_id: str | None  # None for a combine sub-order (see combine_id)
    prepay_expires_at: dt.datetime | None
    fingerprint: str
    attach: str | None = None
    goods_tag: str | None = None
    payer_openid: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    transaction_id: str | None = None
    bank_type: str | None = None
    success_time: dt.datetime | None = None
    payer_total: int | None = None
    state_desc: str | None = None
    sp_mchid: str | None = None
    sub_appid: str | None = None
    sub_openid: str | None = None
    combine_id: int | None = None
    updated_at: dt.datetime | None = None  # the last change of state (the dashboard's timeline)

    @property
    def notify_mchid(self) -> str:
        """Whose keys sign and encrypt this order's notifications: the provider's, for partner orders."""
        return self.sp_mchid or self.mchid


@dataclass(frozen=True)
class NewOrder:
    """An order about to be written: a single order's, or one sub-order of a combine order (no
    prepay_id of its own, ``combine_id`` set). It starts NOTPAY."""

    mchid: str
    appid: str
    out_trade_no: str
    trade_type: str
    family: str
    description: str
    total: int
    currency: str
    notify_url: str
    fingerprint: str
    created_at: dt.datetime
    time_expire: dt.datetime | None
    prepay_id: str | None
    prepay_expires_at: dt.datetime | None
    attach: str | None = None
    goods_tag: str | None = None
    payer_openid: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    sp_mchid: str | None = None
    sub_appid: str | None = None
    sub_openid: str | None = None
    combine_id: int | None = None
    state: TradeState = TradeState.NOTPAY

    @property
    def state_desc(self) -> str:
        return DESCRIPTIONS[self.state]


@dataclass(frozen=True)
class SubOrderDraft:
    """One sub-order of a combine order (seed 004's ``sub_orders`` entry)."""

    mchid: str
    out_trade_no: str
    total: int
    currency: str
    attach: str
    description: str
    detail: str | None = None
    goods_tag: str | None = None
    profit_sharing: bool | None = None


@dataclass(frozen=True)
class CombineDraft:
    combine_mchid: str
    combine_appid: str
    combine_out_trade_no: str
    trade_type: str
    notify_url: str
    sub_orders: tuple[SubOrderDraft, ...]
    family: str
    payer_openid: str | None = None
    time_expire: dt.datetime | None = None
    scene_info: dict[str, Any] = field(default_factory=dict)

    def fingerprint_fields(self) -> dict[str, Any]:
        return {
            "combine_appid": self.combine_appid,
            "trade_type": self.trade_type,
            "notify_url": self.notify_url,
            "sub_orders": [vars(s) for s in self.sub_orders],
            "payer_openid": self.payer_openid,
            "time_expire": self.time_expire.isoformat() if self.time_expire else None,
            "scene_info": self.scene_info,
        }


@dataclass(frozen=True)
class CombineOrder:
    id: int
    combine_mchid: str
    combine_appid: str
    combine_out_trade_no: str
    trade_type: str
    notify_url: str
    payer_openid: str | None
    scene_info: dict[str, Any]
    time_expire: dt.datetime | None
    fingerprint: str
    prepay_id: str
    prepay_expires_at: dt.datetime
    created_at: dt.datetime
    sub_orders: tuple[Order, ...] = ()


class PaymentResult(StrEnum):
    """What the simulated payer does."""

    SUCCESS = "SUCCESS"
    PAYERROR = "PAYERROR"
    USERPAYING = "USERPAYING"
    ACCEPT = "ACCEPT"  # partner orders: accepted, waiting for the debit (seed 002)
    NOTENOUGH = "NOTENOUGH"


class NotificationStatus(StrEnum):
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"  # WeChat's schedule ran out


@dataclass(frozen=True)
class Notification:
    id: str
    mchid: str
    order_id: int | None
    event_type: str
    family: str
    url: str
    body: str
    status: NotificationStatus
    attempts: int
    next_attempt_at: dt.datetime | None
    created_at: dt.datetime
    delivered_at: dt.datetime | None


@dataclass(frozen=True)
class DeliveryAttempt:
    notification_id: str
    attempted_at: dt.datetime
    request_headers: dict[str, str]
    response_status: int | None
    response_body: str
    error: str | None
    duration_ms: float


class RefundStatus(StrEnum):
    """A refund's ``status`` (APIv3 ``refund_status`` in notifications)."""

    PROCESSING = "PROCESSING"
    SUCCESS = "SUCCESS"
    ABNORMAL = "ABNORMAL"
    CLOSED = "CLOSED"


@dataclass(frozen=True)
class RefundDraft:
    """What a merchant asks for when it applies for a refund, in domain terms. ``mchid`` is the order's
    merchant (the sub-merchant, for partner calls, with its provider ``sp_mchid``)."""

    mchid: str
    out_refund_no: str
    refund: int
    total: int
    currency: str
    family: str  # the API family (or "control") that asked
    sp_mchid: str | None = None
    transaction_id: str | None = None
    out_trade_no: str | None = None
    reason: str | None = None
    notify_url: str | None = None
    funds_account: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)  # amount.from, goods_detail ... as given

    def fingerprint_fields(self, order_id: int) -> dict[str, Any]:
        """What must be identical for a repeated out_refund_no to count as the same refund (the order
        counts by identity, whether named by transaction_id or out_trade_no)."""
        return {
            "order_id": order_id,
            "refund": self.refund,
            "total": self.total,
            "currency": self.currency,
            "reason": self.reason,
            "notify_url": self.notify_url,
            "funds_account": self.funds_account,
            "extras": self.extras,
        }


@dataclass(frozen=True)
class Refund:
    id: int
    refund_id: str
    order_id: int
    mchid: str
    out_refund_no: str
    family: str
    refund: int
    total: int
    currency: str
    status: RefundStatus
    channel: str
    user_received_account: str
    created_at: dt.datetime
    fingerprint: str
    # Of the order, read with the refund: every refund answer names them.
    out_trade_no: str
    transaction_id: str
    sp_mchid: str | None = None
    reason: str | None = None
    notify_url: str | None = None
    funds_account: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    success_time: dt.datetime | None = None
    due_at: dt.datetime | None = None
    payer_total: int | None = None  # the order's


@dataclass(frozen=True)
class App:
    """A Mini Program (or any app with an appid): its AppSecret and its open-platform account."""

    appid: str
    secret: str
    open_account: str | None


@dataclass(frozen=True)
class AccessToken:
    token: str
    appid: str
    kind: str  # "token" (/cgi-bin/token) or "stable" (/cgi-bin/stable_token)
    created_at: dt.datetime
    expires_at: dt.datetime


class EndpointKind(StrEnum):
    """Where a cloud payment callback goes: a container service (cloud hosting) or a cloud function."""

    CONTAINER = "container"
    FUNCTION = "function"


@dataclass(frozen=True)
class CloudEndpoint:
    kind: EndpointKind
    env_id: str
    name: str  # the container service, or the function name
    url: str

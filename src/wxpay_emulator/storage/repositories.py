"""Repositories: rows in and out of the tables, as domain records. No business rules here."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Row,
    Select,
    and_,
    bindparam,
    delete,
    insert,
    or_,
    select,
    update,
)

from wxpay_emulator.clock import Clock
from wxpay_emulator.domain.models import (
    DeliveryAttempt,
    KeyMode,
    Merchant,
    NewOrder,
    Notification,
    NotificationStatus,
    Order,
)
from wxpay_emulator.domain.states import TradeState
from wxpay_emulator.storage import journal_repo
from wxpay_emulator.storage.db import insert_or
from wxpay_emulator.storage.tables import (
    access_tokens,
    combine_orders,
    journal,
    merchant_apps,
    merchants,
    notification_attempts,
    notifications,
    orders,
    refunds,
    settings_kv,
)


class MerchantRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, m: Merchant, created_at: dt.datetime) -> None:
        self.conn.execute(
            insert(merchants).values(
                mchid=m.mchid,
                appid=m.appid,
                key_mode=m.key_mode.value,
                serial_no=m.serial_no,
                apiv3_key=m.apiv3_key,
                api_key=m.api_key,
                merchant_key_pem=m.merchant_key_pem,
                merchant_cert_pem=m.merchant_cert_pem,
                platform_key_pem=m.platform_key_pem,
                platform_cert_pem=m.platform_cert_pem,
                platform_serial=m.platform_serial,
                pubkey_key_pem=m.pubkey_key_pem,
                pubkey_pem=m.pubkey_pem,
                pub_key_id=m.pub_key_id,
                created_at=created_at,
                sp_mchid=m.sp_mchid,
            )
        )
        for appid in m.appids:
            self.conn.execute(insert(merchant_apps).values(mchid=m.mchid, appid=appid))

    def get(self, mchid: str) -> Merchant | None:
        row = self.conn.execute(select(merchants).where(merchants.c.mchid == mchid)).first()
        return None if row is None else self._merchant(row)

    def all(self) -> list[Merchant]:
        rows = self.conn.execute(select(merchants).order_by(merchants.c.created_at)).all()
        return [self._merchant(r) for r in rows]

    def _merchant(self, row: Row[Any]) -> Merchant:
        apps = self.conn.execute(
            select(merchant_apps.c.appid).where(merchant_apps.c.mchid == row.mchid).order_by("appid")
        ).scalars()
        return Merchant(
            mchid=row.mchid,
            appid=row.appid,
            key_mode=KeyMode(row.key_mode),
            serial_no=row.serial_no,
            apiv3_key=row.apiv3_key,
            api_key=row.api_key,
            merchant_key_pem=bytes(row.merchant_key_pem),
            merchant_cert_pem=bytes(row.merchant_cert_pem),
            platform_key_pem=bytes(row.platform_key_pem),
            platform_cert_pem=bytes(row.platform_cert_pem),
            platform_serial=row.platform_serial,
            pubkey_key_pem=bytes(row.pubkey_key_pem),
            pubkey_pem=bytes(row.pubkey_pem),
            pub_key_id=row.pub_key_id,
            appids=tuple(apps),
            sp_mchid=row.sp_mchid,
        )


def order_from_row(row: Row[Any]) -> Order:
    return Order(
        id=row.id,
        mchid=row.mchid,
        appid=row.appid,
        out_trade_no=row.out_trade_no,
        trade_type=row.trade_type,
        description=row.description,
        total=row.total,
        currency=row.currency,
        notify_url=row.notify_url,
        family=row.family,
        state=TradeState(row.state),
        created_at=row.created_at,
        time_expire=row.time_expire,
        prepay_id=row.prepay_id,
        prepay_expires_at=row.prepay_expires_at,
        fingerprint=row.fingerprint,
        attach=row.attach,
        goods_tag=row.goods_tag,
        payer_openid=row.payer_openid,
        extras=json.loads(row.extras),
        transaction_id=row.transaction_id,
        bank_type=row.bank_type,
        success_time=row.success_time,
        payer_total=row.payer_total,
        state_desc=row.state_desc,
        sp_mchid=row.sp_mchid,
        sub_appid=row.sub_appid,
        sub_openid=row.sub_openid,
        combine_id=row.combine_id,
        updated_at=row.updated_at,
    )


def _lookup(*columns: Column[Any]) -> tuple[Select[Any], Select[Any]]:
    """A lookup by ``columns``, built once (building statements per call cost ~0.1 ms a query);
    the second form locks the row (PostgreSQL; SQLite serialises whole transactions instead)."""
    plain = select(orders).where(*(c == bindparam(c.name) for c in columns))
    return plain, plain.with_for_update()


_ORDER_INSERT = insert(orders).returning(*orders.c)
_BY_ID = _lookup(orders.c.id)
_BY_OUT_TRADE_NO = _lookup(orders.c.mchid, orders.c.out_trade_no)
_BY_TRANSACTION_ID = _lookup(orders.c.transaction_id)
_BY_PREPAY_ID = _lookup(orders.c.prepay_id)


class OrderRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._lock = conn.dialect.name == "postgresql"

    def add(self, new: NewOrder) -> Order:
        values = {f.name: getattr(new, f.name) for f in dataclasses.fields(new)}
        values.update(
            extras=json.dumps(new.extras, ensure_ascii=False, sort_keys=True),
            state=new.state.value,
            state_desc=new.state_desc,
            updated_at=new.created_at,
        )
        return order_from_row(self.conn.execute(_ORDER_INSERT, values).one())

    def _one(self, lookup: tuple[Select[Any], Select[Any]], lock: bool, **params: Any) -> Order | None:
        query = lookup[1] if lock and self._lock else lookup[0]
        row = self.conn.execute(query, params).first()
        return None if row is None else order_from_row(row)

    def get(self, order_id: int, lock: bool = False) -> Order | None:
        return self._one(_BY_ID, lock, id=order_id)

    def by_out_trade_no(self, mchid: str, out_trade_no: str, lock: bool = False) -> Order | None:
        return self._one(_BY_OUT_TRADE_NO, lock, mchid=mchid, out_trade_no=out_trade_no)

    def by_transaction_id(self, transaction_id: str, lock: bool = False) -> Order | None:
        return self._one(_BY_TRANSACTION_ID, lock, transaction_id=transaction_id)

    def by_prepay_id(self, prepay_id: str, lock: bool = False) -> Order | None:
        return self._one(_BY_PREPAY_ID, lock, prepay_id=prepay_id)

    def update(self, order_id: int, **values: Any) -> Order:
        query = update(orders).where(orders.c.id == order_id).values(**values).returning(*orders.c)
        return order_from_row(self.conn.execute(query).one())

    def recent(self, mchid: str | None = None, limit: int = 200, before: int | None = None) -> list[Order]:
        """Newest first; ``before``: only orders older than that id (a page's cursor)."""
        query = select(orders).order_by(orders.c.id.desc()).limit(limit)
        if before is not None:
            query = query.where(orders.c.id < before)
        if mchid:
            query = query.where(orders.c.mchid == mchid)
        return [order_from_row(r) for r in self.conn.execute(query)]

    def search(
        self,
        *,
        mchid: str | None = None,
        state: str | None = None,
        family: str | None = None,
        number: str | None = None,
        limit: int = 200,
    ) -> list[Order]:
        """Newest first; ``number`` is an out_trade_no or a transaction_id, matched exactly."""
        query = select(orders).order_by(orders.c.id.desc()).limit(limit)
        if mchid:
            query = query.where(orders.c.mchid == mchid)
        if state:
            query = query.where(orders.c.state == state)
        if family:
            query = query.where(orders.c.family == family)
        if number:
            query = query.where(or_(orders.c.out_trade_no == number, orders.c.transaction_id == number))
        return [order_from_row(r) for r in self.conn.execute(query)]

    def families(self) -> list[str]:
        return sorted(r[0] for r in self.conn.execute(select(orders.c.family).distinct()))


def notification_from_row(row: Row[Any]) -> Notification:
    return Notification(
        id=row.id,
        mchid=row.mchid,
        order_id=row.order_id,
        event_type=row.event_type,
        family=row.family,
        url=row.url,
        body=row.body,
        status=NotificationStatus(row.status),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        created_at=row.created_at,
        delivered_at=row.delivered_at,
    )


class NotificationRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, n: Notification) -> None:
        self.conn.execute(
            insert(notifications).values(
                id=n.id,
                mchid=n.mchid,
                order_id=n.order_id,
                event_type=n.event_type,
                family=n.family,
                url=n.url,
                body=n.body,
                status=n.status.value,
                attempts=n.attempts,
                next_attempt_at=n.next_attempt_at,
                created_at=n.created_at,
                delivered_at=n.delivered_at,
            )
        )

    def get(self, notification_id: str) -> Notification | None:
        row = self.conn.execute(select(notifications).where(notifications.c.id == notification_id)).first()
        return None if row is None else notification_from_row(row)

    def recent(
        self, mchid: str | None = None, limit: int = 200, before: tuple[dt.datetime, str] | None = None
    ) -> list[Notification]:
        """Newest first (created_at, then id); ``before``: only rows after that one (a cursor)."""
        c = notifications.c
        query = select(notifications).order_by(c.created_at.desc(), c.id.desc()).limit(limit)
        if before is not None:
            at, last_id = before
            query = query.where(or_(c.created_at < at, and_(c.created_at == at, c.id < last_id)))
        if mchid:
            query = query.where(notifications.c.mchid == mchid)
        return [notification_from_row(r) for r in self.conn.execute(query)]

    def for_order(self, order_id: int) -> list[Notification]:
        query = select(notifications).where(notifications.c.order_id == order_id)
        return [
            notification_from_row(r) for r in self.conn.execute(query.order_by(notifications.c.created_at))
        ]

    def due(self, now: dt.datetime, limit: int) -> list[Notification]:
        query = (
            select(notifications)
            .where(
                notifications.c.status == NotificationStatus.PENDING.value,
                notifications.c.next_attempt_at <= now,
            )
            .order_by(notifications.c.next_attempt_at)
            .limit(limit)
        )
        return [notification_from_row(r) for r in self.conn.execute(query)]

    def update(self, notification_id: str, **values: Any) -> None:
        if "status" in values and isinstance(values["status"], NotificationStatus):
            values["status"] = values["status"].value
        self.conn.execute(update(notifications).where(notifications.c.id == notification_id).values(**values))

    def add_attempt(self, a: DeliveryAttempt) -> None:
        self.conn.execute(
            insert(notification_attempts).values(
                notification_id=a.notification_id,
                attempted_at=a.attempted_at,
                request_headers=json.dumps(a.request_headers),
                response_status=a.response_status,
                response_body=a.response_body,
                error=a.error,
                duration_ms=a.duration_ms,
                acknowledged=a.response_status in (200, 204),
            )
        )

    def attempts(self, notification_ids: Sequence[str]) -> dict[str, list[DeliveryAttempt]]:
        out: dict[str, list[DeliveryAttempt]] = {i: [] for i in notification_ids}
        if not notification_ids:
            return out
        query = (
            select(notification_attempts)
            .where(notification_attempts.c.notification_id.in_(list(notification_ids)))
            .order_by(notification_attempts.c.id)
        )
        for r in self.conn.execute(query):
            out[r.notification_id].append(
                DeliveryAttempt(
                    notification_id=r.notification_id,
                    attempted_at=r.attempted_at,
                    request_headers=json.loads(r.request_headers),
                    response_status=r.response_status,
                    response_body=r.response_body,
                    error=r.error,
                    duration_ms=r.duration_ms,
                )
            )
        return out


class StateRepo:
    """Small persistent emulator state, such as the business clock's offset."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, key: str, lock: bool = False) -> str | None:
        query = select(settings_kv.c.value).where(settings_kv.c.key == key)
        if lock and self.conn.dialect.name == "postgresql":
            query = query.with_for_update()
        value: str | None = self.conn.execute(query).scalar_one_or_none()
        return value

    def set(self, key: str, value: str) -> None:
        """Insert or update in one statement, so two first writers cannot collide."""
        insert_or(self.conn, settings_kv, ["key"], {"key": key, "value": value}, {"value": value})


def reset_business_data(conn: Connection) -> None:
    """Forget orders and notifications (merchants and their keys stay), and the journal: the calls
    already stored, and those any process's writer stores later that began before now."""
    journal_repo.mark_reset(conn, Clock.real_now().timestamp())  # first: see mark_reset
    conn.execute(delete(notification_attempts))
    conn.execute(delete(notifications))
    conn.execute(delete(refunds))
    conn.execute(delete(access_tokens))
    conn.execute(delete(orders))
    conn.execute(delete(combine_orders))
    conn.execute(delete(settings_kv).where(settings_kv.c.key != journal_repo.RESET_KEY))
    conn.execute(delete(journal))

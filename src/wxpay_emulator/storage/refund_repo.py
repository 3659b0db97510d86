"""Refund rows in and out of the ``refunds`` table (migration 0004), as domain records.

Every read joins the refund's order, because every refund answer names the order's ``out_trade_no``
and ``transaction_id``. No business rules here.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Row, Select, func, insert, select, update

from wxpay_emulator.domain.models import Refund, RefundStatus
from wxpay_emulator.storage.tables import orders, refunds

# Refunds whose amount is taken from the order's refundable balance (a CLOSED one gives it back).
COUNTED = (RefundStatus.PROCESSING.value, RefundStatus.SUCCESS.value, RefundStatus.ABNORMAL.value)

_SELECT = select(
    refunds,
    orders.c.out_trade_no.label("order_out_trade_no"),
    orders.c.transaction_id.label("order_transaction_id"),
    orders.c.payer_total.label("order_payer_total"),
).join(orders, orders.c.id == refunds.c.order_id)


def _refund(row: Row[Any]) -> Refund:
    return Refund(
        id=row.id,
        refund_id=row.refund_id,
        order_id=row.order_id,
        mchid=row.mchid,
        out_refund_no=row.out_refund_no,
        family=row.family,
        refund=row.refund,
        total=row.total,
        currency=row.currency,
        status=RefundStatus(row.status),
        channel=row.channel,
        user_received_account=row.user_received_account,
        created_at=row.created_at,
        fingerprint=row.fingerprint,
        out_trade_no=row.order_out_trade_no,
        transaction_id=row.order_transaction_id or "",
        sp_mchid=row.sp_mchid,
        reason=row.reason,
        notify_url=row.notify_url,
        funds_account=row.funds_account,
        extras=json.loads(row.extras),
        success_time=row.success_time,
        due_at=row.due_at,
        payer_total=row.order_payer_total,
    )


class RefundRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._lock = conn.dialect.name == "postgresql"

    def _one(self, query: Select[Any], lock: bool = False) -> Refund | None:
        if lock and self._lock:
            query = query.with_for_update(of=refunds)
        row = self.conn.execute(query).first()
        return None if row is None else _refund(row)

    def add(self, values: Mapping[str, Any]) -> Refund:
        extras = json.dumps(values.get("extras", {}), ensure_ascii=False, sort_keys=True)
        new_id = self.conn.execute(
            insert(refunds).values(**dict(values, extras=extras)).returning(refunds.c.id)
        ).scalar_one()
        found = self.get(new_id)
        assert found is not None
        return found

    def get(self, refund_pk: int, lock: bool = False) -> Refund | None:
        return self._one(_SELECT.where(refunds.c.id == refund_pk), lock)

    def by_refund_id(self, refund_id: str) -> Refund | None:
        return self._one(_SELECT.where(refunds.c.refund_id == refund_id))

    def by_out_refund_no(self, mchid: str, out_refund_no: str, lock: bool = False) -> Refund | None:
        query = _SELECT.where(refunds.c.mchid == mchid, refunds.c.out_refund_no == out_refund_no)
        return self._one(query, lock)

    def update(self, refund_pk: int, **values: Any) -> Refund:
        if isinstance(values.get("status"), RefundStatus):
            values["status"] = values["status"].value
        self.conn.execute(update(refunds).where(refunds.c.id == refund_pk).values(**values))
        found = self.get(refund_pk)
        assert found is not None
        return found

    def counted_sum(self, order_id: int) -> tuple[int, int]:
        """(sum of the amounts that count against the order's paid total, number of refunds)."""
        counted = func.coalesce(
            func.sum(refunds.c.refund).filter(refunds.c.status.in_(COUNTED)),
            0,
        )
        row = self.conn.execute(
            select(counted, func.count()).select_from(refunds).where(refunds.c.order_id == order_id)
        ).one()
        return int(row[0]), int(row[1])

    def due(self, now: dt.datetime, limit: int) -> list[tuple[int, int]]:
        """(refund pk, order id) of PROCESSING refunds whose delay has run out, oldest first."""
        query = (
            select(refunds.c.id, refunds.c.order_id)
            .where(refunds.c.status == RefundStatus.PROCESSING.value, refunds.c.due_at <= now)
            .order_by(refunds.c.due_at)
            .limit(limit)
        )
        return [(r.id, r.order_id) for r in self.conn.execute(query)]

    def next_due(self) -> dt.datetime | None:
        """When the next PROCESSING refund falls due (None: none is waiting)."""
        query = select(func.min(refunds.c.due_at)).where(
            refunds.c.status == RefundStatus.PROCESSING.value, refunds.c.due_at.is_not(None)
        )
        value: dt.datetime | None = self.conn.execute(query).scalar_one_or_none()
        return value

    def for_orders(self, order_ids: Sequence[int]) -> dict[int, list[Refund]]:
        out: dict[int, list[Refund]] = {i: [] for i in order_ids}
        if not order_ids:
            return out
        query = _SELECT.where(refunds.c.order_id.in_(list(order_ids))).order_by(refunds.c.id)
        for row in self.conn.execute(query):
            out[row.order_id].append(_refund(row))
        return out

    def recent(self, mchid: str | None = None, limit: int = 200, before: int | None = None) -> list[Refund]:
        query = _SELECT.order_by(refunds.c.id.desc()).limit(limit)
        if before is not None:
            query = query.where(refunds.c.id < before)
        if mchid:
            query = query.where(refunds.c.mchid == mchid)
        return [_refund(r) for r in self.conn.execute(query)]

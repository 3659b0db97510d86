"""Combine orders (APIv3 合单): one row of its own, always read with its sub-orders, which are rows of the
orders table (repositories.py) in the order the merchant gave them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from wxpay_emulator.domain.models import CombineOrder, Order
from wxpay_emulator.storage.repositories import order_from_row
from wxpay_emulator.storage.tables import combine_orders, orders


def _combine(row: Row[Any], subs: tuple[Order, ...]) -> CombineOrder:
    return CombineOrder(
        id=row.id,
        combine_mchid=row.combine_mchid,
        combine_appid=row.combine_appid,
        combine_out_trade_no=row.combine_out_trade_no,
        trade_type=row.trade_type,
        notify_url=row.notify_url,
        payer_openid=row.payer_openid,
        scene_info=json.loads(row.extras),
        time_expire=row.time_expire,
        fingerprint=row.fingerprint,
        prepay_id=row.prepay_id,
        prepay_expires_at=row.prepay_expires_at,
        created_at=row.created_at,
        sub_orders=subs,
    )


class CombineRepo:
    """Combine orders, always read with their sub-orders (in the order the merchant gave them)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._lock = conn.dialect.name == "postgresql"

    def add(self, values: Mapping[str, Any]) -> int:
        values = dict(values, extras=json.dumps(values.get("extras", {}), ensure_ascii=False, sort_keys=True))
        order_id: int = self.conn.execute(
            insert(combine_orders).values(**values).returning(combine_orders.c.id)
        ).scalar_one()
        return order_id

    def _one(self, *where: Any, lock: bool = False) -> CombineOrder | None:
        query = select(combine_orders).where(*where)
        if lock and self._lock:
            query = query.with_for_update()
        row = self.conn.execute(query).first()
        if row is None:
            return None
        sub_query = select(orders).where(orders.c.combine_id == row.id).order_by(orders.c.id)
        if lock and self._lock:
            sub_query = sub_query.with_for_update()
        return _combine(row, tuple(order_from_row(r) for r in self.conn.execute(sub_query)))

    def get(self, combine_id: int, lock: bool = False) -> CombineOrder | None:
        return self._one(combine_orders.c.id == combine_id, lock=lock)

    def sub_order_taken(self, combine_mchid: str, out_trade_no: str) -> bool:
        """Whether a sub-order of a combine order of ``combine_mchid`` already has ``out_trade_no``."""
        query = (
            select(orders.c.id)
            .join(combine_orders, orders.c.combine_id == combine_orders.c.id)
            .where(combine_orders.c.combine_mchid == combine_mchid, orders.c.out_trade_no == out_trade_no)
            .limit(1)
        )
        return self.conn.execute(query).first() is not None

    def by_out_trade_no(
        self, combine_mchid: str, combine_out_trade_no: str, lock: bool = False
    ) -> CombineOrder | None:
        return self._one(
            combine_orders.c.combine_mchid == combine_mchid,
            combine_orders.c.combine_out_trade_no == combine_out_trade_no,
            lock=lock,
        )

    def by_prepay_id(self, prepay_id: str, lock: bool = False) -> CombineOrder | None:
        return self._one(combine_orders.c.prepay_id == prepay_id, lock=lock)

    def update(self, combine_id: int, **values: Any) -> None:
        self.conn.execute(update(combine_orders).where(combine_orders.c.id == combine_id).values(**values))

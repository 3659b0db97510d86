"""Combine (合单) orders, seed 004: one payment for 2-10 sub-orders, each an order of its own merchant.

The payer pays the combine order once; every sub-order becomes SUCCESS in the same transaction, each
with its own transaction_id, and one notification carries them all. Re-entry follows the single-order
rules: identical parameters before ``time_expire`` return the live (or a fresh) prepay_id; changed
parameters, or a passed ``time_expire``, are refused. Sub-orders move through the one transitions table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from wxpay_emulator.clock import Clock
from wxpay_emulator.domain.errors import DomainError, ErrorCode
from wxpay_emulator.domain.merchants import MerchantService
from wxpay_emulator.domain.models import CombineDraft, CombineOrder, NewOrder, PaymentResult
from wxpay_emulator.domain.orders import (
    OrderService,
    check_payable_window,
    earliest_expire,
    fingerprint,
    prepay_deadline,
    refuse_settled,
)
from wxpay_emulator.domain.ports import CombineRepository, Conflict, UnitOfWork, UnitOfWorkFactory
from wxpay_emulator.domain.states import DESCRIPTIONS, TradeState, check_transition
from wxpay_emulator.ids import Ids

MIN_SUB_ORDERS, MAX_SUB_ORDERS = 2, 10

OnCombinePaid = Callable[[UnitOfWork, CombineOrder], object]


class CombineService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        ids: Ids,
        merchants: MerchantService,
        orders: OrderService,
        on_paid: OnCombinePaid,
    ) -> None:
        self.uow = uow
        self.clock = clock
        self.ids = ids
        self.merchants = merchants
        self.orders = orders
        self.on_paid = on_paid

    def _check_parties(self, draft: CombineDraft) -> None:
        initiator = self.merchants.get(draft.combine_mchid)
        if not initiator.is_bound(draft.combine_appid):
            raise DomainError(
                ErrorCode.APPID_MCHID_NOT_MATCH,
                "combine_appid和combine_mchid不匹配",
                field="combine_appid",
                value=draft.combine_appid,
            )
        if not MIN_SUB_ORDERS <= len(draft.sub_orders) <= MAX_SUB_ORDERS:
            raise DomainError(
                ErrorCode.PARAM_ERROR, "合单支付支持2-10笔子单", field="sub_orders", issue="子单数量应为2-10"
            )
        # Seed 004: a sub-order's out_trade_no is unique under the combine_mchid (且在同一个合单商户号下唯一),
        # whichever sub-merchant it belongs to.
        seen: set[str] = set()
        for i, sub in enumerate(draft.sub_orders):
            key = sub.out_trade_no
            if key in seen:
                raise DomainError(
                    ErrorCode.PARAM_ERROR,
                    "子单商户订单号重复",
                    field=f"sub_orders.{i}.out_trade_no",
                    value=sub.out_trade_no,
                )
            seen.add(key)
            merchant = self.merchants.find(sub.mchid)
            if merchant is None:
                raise DomainError(
                    ErrorCode.MCH_NOT_EXISTS,
                    "子单商户号不存在",
                    field=f"sub_orders.{i}.mchid",
                    value=sub.mchid,
                )
            # A sub-order's merchant is the initiator, its sub-merchant, or bound to combine_appid.
            if not (
                merchant.mchid == initiator.mchid
                or merchant.sp_mchid == initiator.mchid
                or merchant.is_bound(draft.combine_appid)
            ):
                raise DomainError(
                    ErrorCode.APPID_MCHID_NOT_MATCH,
                    "子单商户号与combine_appid没有绑定关系",
                    field=f"sub_orders.{i}.mchid",
                    value=sub.mchid,
                )

    def place(self, draft: CombineDraft) -> CombineOrder:
        self._check_parties(draft)
        try:
            return self._place(draft)
        except Conflict:
            return self._place(draft)  # a concurrent twin inserted first: this is a re-entry

    def _place(self, draft: CombineDraft) -> CombineOrder:
        now = self.clock.now()
        digest = fingerprint(draft.fingerprint_fields())
        with self.uow() as uow:
            combines, orders = uow.combines, uow.orders
            existing = combines.by_out_trade_no(draft.combine_mchid, draft.combine_out_trade_no, lock=True)
            if existing is not None:
                return self._reenter(combines, existing, digest, now)
            expire = earliest_expire(now, draft.time_expire)
            combine_id = combines.add(
                {
                    "combine_mchid": draft.combine_mchid,
                    "combine_appid": draft.combine_appid,
                    "combine_out_trade_no": draft.combine_out_trade_no,
                    "trade_type": draft.trade_type,
                    "notify_url": draft.notify_url,
                    "payer_openid": draft.payer_openid,
                    "extras": draft.scene_info,
                    "time_expire": expire,
                    "fingerprint": digest,
                    "prepay_id": self.ids.prepay_id(now),
                    "prepay_expires_at": prepay_deadline(now, expire),
                    "created_at": now,
                    "updated_at": now,
                }
            )
            for i, sub in enumerate(draft.sub_orders):
                taken = combines.sub_order_taken(draft.combine_mchid, sub.out_trade_no)
                if taken or orders.by_out_trade_no(sub.mchid, sub.out_trade_no) is not None:
                    raise DomainError(
                        ErrorCode.OUT_TRADE_NO_USED,
                        "子单商户订单号重复",
                        field=f"sub_orders.{i}.out_trade_no",
                        value=sub.out_trade_no,
                    )
                extras: dict[str, Any] = {}
                if sub.detail is not None:
                    extras["detail"] = sub.detail
                if sub.profit_sharing is not None:
                    extras["settle_info"] = {"profit_sharing": sub.profit_sharing}
                if draft.scene_info:
                    extras["scene_info"] = draft.scene_info
                orders.add(
                    NewOrder(
                        mchid=sub.mchid,
                        appid=draft.combine_appid,
                        out_trade_no=sub.out_trade_no,
                        trade_type=draft.trade_type,
                        family=draft.family,
                        description=sub.description,
                        total=sub.total,
                        currency=sub.currency,
                        notify_url=draft.notify_url,
                        fingerprint=digest,
                        created_at=now,
                        time_expire=expire,
                        prepay_id=None,  # the combine order's prepay_id pays it
                        prepay_expires_at=None,
                        attach=sub.attach,
                        goods_tag=sub.goods_tag,
                        payer_openid=draft.payer_openid,
                        extras=extras,
                        combine_id=combine_id,
                    )
                )
            found = combines.get(combine_id)
        assert found is not None
        return found

    def _reenter(
        self, combines: CombineRepository, combine: CombineOrder, digest: str, now: dt.datetime
    ) -> CombineOrder:
        for sub in combine.sub_orders:
            refuse_settled(sub)
        if combine.fingerprint != digest:
            raise DomainError(ErrorCode.OUT_TRADE_NO_USED, "合单商户订单号重复，且请求参数与原合单不一致")
        if combine.time_expire is not None and now >= combine.time_expire:
            raise DomainError(ErrorCode.ORDER_EXPIRED, "合单已超过支付结束时间，请使用新的合单商户订单号下单")
        if now < combine.prepay_expires_at:
            return combine
        combines.update(
            combine.id,
            prepay_id=self.ids.prepay_id(now),
            prepay_expires_at=prepay_deadline(now, combine.time_expire),
            updated_at=now,
        )
        found = combines.get(combine.id)
        assert found is not None
        return found

    def find(self, combine_mchid: str, combine_out_trade_no: str) -> CombineOrder:
        with self.uow() as uow:
            found = uow.combines.by_out_trade_no(combine_mchid, combine_out_trade_no)
        if found is None:
            raise DomainError(ErrorCode.ORDER_NOT_EXIST, "合单订单不存在")
        return found

    def by_prepay_id(self, prepay_id: str) -> CombineOrder | None:
        with self.uow() as uow:
            return uow.combines.by_prepay_id(prepay_id)

    def close(
        self, combine_mchid: str, combine_out_trade_no: str, combine_appid: str, subs: list[tuple[str, str]]
    ) -> CombineOrder:
        """Close the listed sub-orders (all or nothing). A paid one refuses; a closed one stays closed."""
        now = self.clock.now()
        with self.uow() as uow:
            combines, orders = uow.combines, uow.orders
            combine = combines.by_out_trade_no(combine_mchid, combine_out_trade_no, lock=True)
            if combine is None:
                raise DomainError(ErrorCode.ORDER_NOT_EXIST, "合单订单不存在")
            if combine_appid != combine.combine_appid:
                raise DomainError(
                    ErrorCode.APPID_MCHID_NOT_MATCH, "combine_appid与下单时不一致", field="combine_appid"
                )
            by_key = {(o.mchid, o.out_trade_no): o for o in combine.sub_orders}
            targets = []
            for i, key in enumerate(subs):
                sub = by_key.get(key)
                if sub is None:
                    raise DomainError(
                        ErrorCode.ORDER_NOT_EXIST,
                        "子单不属于该合单",
                        field=f"sub_orders.{i}.out_trade_no",
                        value=key[1],
                    )
                if sub.state in (TradeState.SUCCESS, TradeState.REFUND):
                    raise DomainError(ErrorCode.ORDER_PAID, "子单已支付，不能关闭")
                targets.append(sub)
            for sub in targets:
                if sub.state is not TradeState.CLOSED:
                    state = check_transition(sub.state, TradeState.CLOSED)
                    orders.update(sub.id, state=state.value, state_desc=DESCRIPTIONS[state], updated_at=now)
            found = combines.get(combine.id)
        assert found is not None
        return found

    def pay(
        self,
        *,
        result: PaymentResult,
        prepay_id: str | None = None,
        combine_mchid: str | None = None,
        combine_out_trade_no: str | None = None,
        openid: str | None = None,
    ) -> CombineOrder:
        """The payer pays the whole combine order at once: every sub-order moves together."""
        now = self.clock.now()
        with self.uow() as uow:
            combines, orders = uow.combines, uow.orders
            if prepay_id is not None:
                combine = combines.by_prepay_id(prepay_id, lock=True)
            elif combine_mchid is not None and combine_out_trade_no is not None:
                combine = combines.by_out_trade_no(combine_mchid, combine_out_trade_no, lock=True)
            else:
                raise DomainError(
                    ErrorCode.PARAM_ERROR, "give prepay_id, or combine_mchid and combine_out_trade_no"
                )
            if combine is None:
                raise DomainError(ErrorCode.ORDER_NOT_EXIST, "合单订单不存在")
            for sub in combine.sub_orders:
                refuse_settled(sub)
            check_payable_window(combine.time_expire, combine.prepay_expires_at, now)
            openid = openid or combine.payer_openid or self.ids.openid()  # one payer for every sub-order
            for sub in combine.sub_orders:
                self.orders.settle(orders, sub, result, openid, now)
            paid = combines.get(combine.id)
            assert paid is not None
            if result is PaymentResult.SUCCESS:
                self.on_paid(uow, paid)
            return paid

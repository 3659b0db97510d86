"""Orders: placing (with WeChat's re-entry rules), finding, closing and paying.

Re-entry (seed 004, DESIGN.md §2): the same ``out_trade_no`` with identical parameters before the order
expires returns the live prepay_id (a fresh one once the 2-hour prepay_id has lapsed); different
parameters are refused; a paid order answers ORDER_PAID and a closed one ORDER_CLOSED. ``time_expire``
earlier than one minute after creation is raised to one minute, and may not change on re-entry.
"""

from __future__ import annotations

import builtins
import datetime as dt
import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

from wxpay_emulator.clock import Clock
from wxpay_emulator.domain.errors import DomainError, ErrorCode
from wxpay_emulator.domain.merchants import MerchantService
from wxpay_emulator.domain.models import NewOrder, Order, OrderDraft, PaymentResult
from wxpay_emulator.domain.ports import Conflict, OrderRepository, UnitOfWork, UnitOfWorkFactory
from wxpay_emulator.domain.states import DESCRIPTIONS, PAYABLE, TradeState, check_transition
from wxpay_emulator.ids import Ids

PREPAY_LIFETIME = dt.timedelta(hours=2)
MIN_EXPIRE = dt.timedelta(minutes=1)
# DomainError.issue of an out_trade_no already used by an order of another API family.
OTHER_FAMILY = "other_family"
# Families that place the same orders: cloud hosting and cloud functions are one cloud payment API
# (they query, close and re-enter each other's orders).
_SAME_API = {"cloudfn": "cloud"}


def same_api(a: str, b: str) -> bool:
    return _SAME_API.get(a, a) == _SAME_API.get(b, b)


# Called inside the payment's unit of work to write the outbox row (see notifications.py).
OnPaid = Callable[[UnitOfWork, Order], None]


def fingerprint(fields: Mapping[str, Any]) -> str:
    """What a re-entry (of an order, a combine order or a refund) is compared by: a digest of the
    request's ``fingerprint_fields``."""
    canonical = json.dumps(fields, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def earliest_expire(now: dt.datetime, time_expire: dt.datetime | None) -> dt.datetime | None:
    """``time_expire`` as WeChat keeps it: at least one minute after creation."""
    if time_expire is not None and time_expire < now + MIN_EXPIRE:
        return now + MIN_EXPIRE
    return time_expire


def prepay_deadline(now: dt.datetime, time_expire: dt.datetime | None) -> dt.datetime:
    """When a prepay_id issued ``now`` lapses: after two hours, or at ``time_expire`` if sooner."""
    deadline = now + PREPAY_LIFETIME
    return min(deadline, time_expire) if time_expire is not None else deadline


def check_payable_window(
    time_expire: dt.datetime | None, prepay_expires_at: dt.datetime | None, now: dt.datetime
) -> None:
    if time_expire is not None and now >= time_expire:
        raise DomainError(ErrorCode.ORDER_EXPIRED, "订单已超过支付结束时间 (time_expire)")
    if prepay_expires_at is not None and now >= prepay_expires_at:
        raise DomainError(ErrorCode.ORDER_EXPIRED, "prepay_id已失效 (2小时)，请商户重新下单获取")


def refuse_settled(order: Order) -> None:
    """The codes WeChat answers when an order can no longer be paid or re-placed."""
    if order.state in (TradeState.SUCCESS, TradeState.REFUND):
        raise DomainError(ErrorCode.ORDER_PAID, "该订单已支付")
    if order.state in (TradeState.CLOSED, TradeState.REVOKED):
        raise DomainError(ErrorCode.ORDER_CLOSED, "订单已关闭")
    if order.state not in PAYABLE:
        raise DomainError(ErrorCode.ORDER_NOT_PAYABLE, f"订单状态为{order.state}，无法继续支付")


class OrderService:
    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, ids: Ids, merchants: MerchantService, on_paid: OnPaid
    ) -> None:
        self.uow = uow
        self.clock = clock
        self.ids = ids
        self.merchants = merchants
        self.on_paid = on_paid
        # Run before an order is read (Domain sets it: refunds whose delay ran out settle first).
        self.before_read: Callable[[], None] | None = None

    def place(self, draft: OrderDraft) -> Order:
        self._check_parties(draft)
        try:
            return self._place(draft)
        except Conflict:
            # A concurrent request inserted the same out_trade_no first: this one is a re-entry.
            return self._place(draft)

    def _check_parties(self, draft: OrderDraft) -> None:
        """The merchant exists and the appid is bound to it; for a partner order, the sub-merchant is
        the provider's and each appid is bound to its own merchant (sp_appid to sp_mchid, sub_appid to
        sub_mchid)."""
        if draft.sp_mchid is None:
            merchant = self.merchants.get(draft.mchid)
            if not merchant.is_bound(draft.appid):
                raise DomainError(
                    ErrorCode.APPID_MCHID_NOT_MATCH, "appid和mch_id不匹配", field="appid", value=draft.appid
                )
            return
        provider, sub = self.merchants.sub_merchant(draft.sp_mchid, draft.mchid)
        if not provider.is_bound(draft.appid):
            raise DomainError(
                ErrorCode.APPID_MCHID_NOT_MATCH,
                "sp_appid和sp_mchid不匹配",
                field="sp_appid",
                value=draft.appid,
            )
        if draft.sub_appid is not None and not sub.is_bound(draft.sub_appid):
            raise DomainError(
                ErrorCode.APPID_MCHID_NOT_MATCH,
                "sub_appid和sub_mchid不匹配",
                field="sub_appid",
                value=draft.sub_appid,
            )

    def _place(self, draft: OrderDraft) -> Order:
        now = self.clock.now()
        digest = fingerprint(draft.fingerprint_fields())
        with self.uow() as uow:
            repo = uow.orders
            existing = repo.by_out_trade_no(draft.mchid, draft.out_trade_no, lock=True)
            if existing is not None:
                return self._reenter(repo, existing, draft, digest, now)
            expire = earliest_expire(now, draft.time_expire)
            new = NewOrder(
                mchid=draft.mchid,
                appid=draft.appid,
                out_trade_no=draft.out_trade_no,
                trade_type=draft.trade_type,
                family=draft.family,
                description=draft.description,
                total=draft.total,
                currency=draft.currency,
                notify_url=draft.notify_url,
                fingerprint=digest,
                created_at=now,
                time_expire=expire,
                prepay_id=self.ids.prepay_id(now),
                prepay_expires_at=prepay_deadline(now, expire),
                attach=draft.attach,
                goods_tag=draft.goods_tag,
                payer_openid=draft.payer_openid,
                extras=draft.extras,
                sp_mchid=draft.sp_mchid,
                sub_appid=draft.sub_appid,
                sub_openid=draft.sub_openid,
            )
            return repo.add(new)

    def _reenter(
        self, repo: OrderRepository, order: Order, draft: OrderDraft, digest: str, now: dt.datetime
    ) -> Order:
        if not same_api(order.family, draft.family):
            # APIv2 and the cloud families answer this OUT_TRADE_NO_USED, a re-entry with other
            # parameters INVALID_REQUEST (seed 001); APIv3 answers both OUT_TRADE_NO_USED.
            raise DomainError(
                ErrorCode.OUT_TRADE_NO_USED, "商户订单号重复: 已被其他接口的订单使用", issue=OTHER_FAMILY
            )
        refuse_settled(order)
        if order.fingerprint != digest:
            raise DomainError(ErrorCode.OUT_TRADE_NO_USED, "商户订单号重复，且请求参数与原订单不一致")
        if order.time_expire is not None and now >= order.time_expire:
            raise DomainError(ErrorCode.ORDER_EXPIRED, "订单已超过支付结束时间，请使用新的商户订单号下单")
        if order.prepay_expires_at is not None and now < order.prepay_expires_at:
            return order
        return repo.update(
            order.id,
            prepay_id=self.ids.prepay_id(now),
            prepay_expires_at=prepay_deadline(now, order.time_expire),
            updated_at=now,
        )

    def find(
        self,
        mchid: str,
        *,
        out_trade_no: str | None = None,
        transaction_id: str | None = None,
        sp_mchid: str | None = None,
    ) -> Order:
        """An order of ``mchid`` (the sub-merchant, for partner calls, with its provider ``sp_mchid``)."""
        if self.before_read is not None:
            self.before_read()
        with self.uow() as uow:
            repo = uow.orders
            if transaction_id is not None:
                order = repo.by_transaction_id(transaction_id)
            else:
                assert out_trade_no is not None
                order = repo.by_out_trade_no(mchid, out_trade_no)
        # A combine sub-order is seen (and closed) only through its combine order.
        if (
            order is None
            or order.mchid != mchid
            or order.sp_mchid != sp_mchid
            or order.combine_id is not None
        ):
            raise DomainError(ErrorCode.ORDER_NOT_EXIST, "订单不存在")
        return order

    def by_prepay_id(self, prepay_id: str) -> Order:
        with self.uow() as uow:
            order = uow.orders.by_prepay_id(prepay_id)
        if order is None:
            raise DomainError(ErrorCode.ORDER_NOT_EXIST, "prepay_id无效", field="package", value=prepay_id)
        return order

    def close(
        self, mchid: str, out_trade_no: str, sp_mchid: str | None = None, *, again_is_error: bool = False
    ) -> Order:
        """Close an unpaid order. Closing a closed order again succeeds, as at WeChat's APIv3; APIv2
        (``again_is_error``) answers ORDER_CLOSED for a closed or revoked one."""
        now = self.clock.now()
        with self.uow() as uow:
            repo = uow.orders
            order = repo.by_out_trade_no(mchid, out_trade_no, lock=True)
            if order is None or order.sp_mchid != sp_mchid or order.combine_id is not None:
                raise DomainError(ErrorCode.ORDER_NOT_EXIST, "订单不存在")
            if again_is_error and order.state in (TradeState.CLOSED, TradeState.REVOKED):
                raise DomainError(ErrorCode.ORDER_CLOSED, "订单已关闭，无法重复关闭")
            if order.state is TradeState.CLOSED:
                return order
            if order.state in (TradeState.SUCCESS, TradeState.REFUND):
                raise DomainError(ErrorCode.ORDER_PAID, "订单已支付，不能关闭")
            state = check_transition(order.state, TradeState.CLOSED)
            return repo.update(order.id, state=state.value, state_desc=DESCRIPTIONS[state], updated_at=now)

    def get(self, order_id: int) -> Order:
        """An order by the emulator's own id (the dashboard's links), combine sub-orders included."""
        if self.before_read is not None:
            self.before_read()
        with self.uow() as uow:
            order = uow.orders.get(order_id)
        if order is None:
            raise DomainError(ErrorCode.ORDER_NOT_EXIST, "订单不存在")
        return order

    def search(
        self,
        *,
        mchid: str | None = None,
        state: str | None = None,
        family: str | None = None,
        number: str | None = None,
        limit: int = 200,
    ) -> builtins.list[Order]:
        """Newest first, filtered; ``number`` is an out_trade_no or transaction_id (exact)."""
        if self.before_read is not None:
            self.before_read()
        with self.uow() as uow:
            return uow.orders.search(mchid=mchid, state=state, family=family, number=number, limit=limit)

    def families(self) -> builtins.list[str]:
        """The families that have placed orders (the dashboard's filter)."""
        with self.uow() as uow:
            return uow.orders.families()

    def list(self, mchid: str | None = None, limit: int = 200, before: int | None = None) -> list[Order]:
        if self.before_read is not None:
            self.before_read()
        with self.uow() as uow:
            return uow.orders.recent(mchid, limit, before)

    def pay(
        self,
        *,
        result: PaymentResult,
        mchid: str | None = None,
        out_trade_no: str | None = None,
        prepay_id: str | None = None,
        openid: str | None = None,
    ) -> Order:
        """The simulated payer: move the order as the WeChat user's action would."""
        now = self.clock.now()
        with self.uow() as uow:
            repo = uow.orders
            if prepay_id is not None:
                order = repo.by_prepay_id(prepay_id, lock=True)
            elif mchid is not None and out_trade_no is not None:
                order = repo.by_out_trade_no(mchid, out_trade_no, lock=True)
            else:
                raise DomainError(ErrorCode.PARAM_ERROR, "give prepay_id, or mchid and out_trade_no")
            if order is None:
                raise DomainError(ErrorCode.ORDER_NOT_EXIST, "订单不存在")
            if order.combine_id is not None:
                raise DomainError(ErrorCode.INVALID_REQUEST, "合单的子单只能随合单一起支付")
            refuse_settled(order)
            check_payable_window(order.time_expire, order.prepay_expires_at, now)
            order = self.settle(repo, order, result, openid, now)
            if order.state is TradeState.SUCCESS:
                self.on_paid(uow, order)
            return order

    def settle(
        self, repo: OrderRepository, order: Order, result: PaymentResult, openid: str | None, now: dt.datetime
    ) -> Order:
        """Apply the payer's action to one payable order (a sub-order of a combine too); the caller
        owns the transaction and the notification."""
        if (
            openid is not None
            and order.trade_type == "JSAPI"
            and order.payer_openid
            and openid != order.payer_openid
        ):
            raise DomainError(ErrorCode.OPENID_MISMATCH, "付款用户与下单时的payer.openid不一致")
        if result is PaymentResult.NOTENOUGH:
            # The payer's balance is short: WeChat shows the user an error; the order stays payable.
            raise DomainError(ErrorCode.NOT_ENOUGH, "用户余额不足，订单仍可支付")
        target = TradeState(result.value)
        check_transition(order.state, target)
        changes: dict[str, Any] = {"state": target.value, "state_desc": DESCRIPTIONS[target]}
        if target is TradeState.SUCCESS:
            changes.update(
                transaction_id=self.ids.transaction_id(now),
                bank_type=self.ids.bank_type(),
                success_time=now,
                payer_total=order.total,
                payer_openid=openid or order.payer_openid or self.ids.openid(),
            )
            if order.sub_appid and not order.sub_openid:
                changes["sub_openid"] = self.ids.openid()
        return repo.update(order.id, updated_at=now, **changes)

"""Refunds: applying (WeChat's rules), settling after a delay or by the control plane, finding.

Rules (WeChat's 申请退款 page): only a paid order (SUCCESS, or REFUND after an earlier refund) is
refundable, within 365 days of its payment; ``amount.total`` must be the order's total; several partial
refunds are allowed, at most 50, and the amounts of the PROCESSING, SUCCESS and ABNORMAL ones never add
up to more than was paid (a CLOSED refund gives its amount back). ``out_refund_no`` is unique per
merchant: the same number with the same parameters is the same refund, with others it is refused.

Every new refund is PROCESSING; it becomes SUCCESS by itself ``delay`` seconds later on the business
clock (``settle_due``, run by the dispatcher's loop and lazily before refunds or orders are read), or
SUCCESS / ABNORMAL / CLOSED at once when the control plane says so. The first success moves the order
SUCCESS -> REFUND. Each outcome writes its notification in the same transaction (``on_settled``).
"""

from __future__ import annotations

import builtins
import datetime as dt
import threading
from collections.abc import Callable, Sequence
from typing import Any

from wxpay_emulator.clock import Clock
from wxpay_emulator.domain.errors import DomainError, ErrorCode
from wxpay_emulator.domain.models import Order, Refund, RefundDraft, RefundStatus
from wxpay_emulator.domain.orders import fingerprint
from wxpay_emulator.domain.ports import Conflict, RefundRepository, UnitOfWork, UnitOfWorkFactory
from wxpay_emulator.domain.states import DESCRIPTIONS, TradeState, check_transition
from wxpay_emulator.ids import Ids

REFUND_PERIOD = dt.timedelta(days=365)
MAX_REFUNDS_PER_ORDER = 50
CHANNEL = "ORIGINAL"  # 原路退款
# Where a refund of a balance payment lands, as WeChat words it.
USER_RECEIVED_ACCOUNT = "支付用户零钱"
REFUNDABLE = (TradeState.SUCCESS, TradeState.REFUND)
BATCH = 50

# Called inside the settling transaction to write the refund's notification (see notifications.py).
OnSettled = Callable[[UnitOfWork, Order, Refund], object]


class RefundService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        ids: Ids,
        on_settled: OnSettled,
        delay_seconds: float = 5.0,
    ) -> None:
        self.uow = uow
        self.clock = clock
        self.ids = ids
        self.on_settled = on_settled
        self.delay = dt.timedelta(seconds=delay_seconds)
        # The earliest due_at of a PROCESSING refund (None: none), so that reads settle only when one
        # may be due; not known until settle_due has looked, and again whenever a race may have hidden one.
        self._hint_lock = threading.Lock()
        self._hint_known = False
        self._next_due: dt.datetime | None = None
        self._created = 0  # refunds made by this process (tells settle_due that one came meanwhile)

    # --- applying --------------------------------------------------------------------------------------

    def create(self, draft: RefundDraft) -> Refund:
        if draft.refund <= 0:
            raise DomainError(ErrorCode.PARAM_ERROR, "退款金额必须大于0", field="amount.refund")
        if draft.transaction_id is None and draft.out_trade_no is None:
            raise DomainError(ErrorCode.PARAM_ERROR, "transaction_id和out_trade_no必须填写其一")
        self.settle_if_due()  # a repeated out_refund_no answers the refund as it is now
        try:
            refund, new = self._create(draft)
        except Conflict:
            # A concurrent request inserted the same out_refund_no first: this one is a repeat.
            refund, new = self._create(draft)
        if new and refund.due_at is not None:
            with self._hint_lock:
                self._created += 1
                current = self._next_due
                self._next_due = refund.due_at if current is None else min(current, refund.due_at)
        return refund

    def _create(self, draft: RefundDraft) -> tuple[Refund, bool]:
        now = self.clock.now()
        with self.uow() as uow:
            order = self._locked_order(uow, draft)
            repo = uow.refunds
            digest = fingerprint(draft.fingerprint_fields(order.id))
            existing = repo.by_out_refund_no(draft.mchid, draft.out_refund_no)
            if existing is not None:
                if existing.fingerprint != digest:
                    raise DomainError(
                        ErrorCode.OUT_REFUND_NO_USED,
                        "商户退款单号重复，且请求参数与原退款单不一致",
                        field="out_refund_no",
                        value=draft.out_refund_no,
                    )
                return existing, False
            self._check_refundable(repo, order, draft, now)
            refund = repo.add(
                {
                    "refund_id": self.ids.refund_id(now),
                    "order_id": order.id,
                    "mchid": order.mchid,
                    "sp_mchid": order.sp_mchid,
                    "out_refund_no": draft.out_refund_no,
                    "family": draft.family,
                    "reason": draft.reason,
                    "notify_url": draft.notify_url,
                    "funds_account": draft.funds_account,
                    "refund": draft.refund,
                    "total": draft.total,
                    "currency": draft.currency,
                    "extras": draft.extras,
                    "fingerprint": digest,
                    "status": RefundStatus.PROCESSING.value,
                    "channel": CHANNEL,
                    "user_received_account": USER_RECEIVED_ACCOUNT,
                    "created_at": now,
                    "updated_at": now,
                    "due_at": now + self.delay,
                }
            )
            return refund, True

    def _locked_order(self, uow: UnitOfWork, draft: RefundDraft) -> Order:
        """The order to refund, its row locked until the refund is written (PostgreSQL: SELECT ... FOR
        UPDATE; SQLite runs one writer at a time), so concurrent refunds of one order take turns."""
        orders = uow.orders
        if draft.transaction_id is not None:
            order = orders.by_transaction_id(draft.transaction_id, lock=True)
        else:
            assert draft.out_trade_no is not None
            order = orders.by_out_trade_no(draft.mchid, draft.out_trade_no, lock=True)
        # A combine sub-order is refunded through its own mchid and out_trade_no.
        if order is None or order.mchid != draft.mchid or order.sp_mchid != draft.sp_mchid:
            raise DomainError(ErrorCode.RESOURCE_NOT_EXISTS, "订单不存在")
        return order

    def _check_refundable(
        self, repo: RefundRepository, order: Order, draft: RefundDraft, now: dt.datetime
    ) -> None:
        if order.state not in REFUNDABLE:
            # WeChat: "请检查你的订单号是否正确且是否已支付，未支付的订单不能发起退款".
            raise DomainError(ErrorCode.RESOURCE_NOT_EXISTS, "订单不存在或未支付，未支付的订单不能发起退款")
        if order.success_time is not None and now > order.success_time + REFUND_PERIOD:
            raise DomainError(ErrorCode.REFUND_PERIOD_EXPIRED, "交易时间超过一年的订单无法提交退款")
        if draft.total != order.total:
            raise DomainError(
                ErrorCode.INVALID_REQUEST,
                "原订单金额与订单实际金额不一致",
                field="amount.total",
                value=draft.total,
            )
        if draft.currency != order.currency:
            raise DomainError(
                ErrorCode.INVALID_REQUEST,
                "退款币种与订单币种不一致",
                field="amount.currency",
                value=draft.currency,
            )
        refunded, count = repo.counted_sum(order.id)
        if count >= MAX_REFUNDS_PER_ORDER:
            raise DomainError(ErrorCode.INVALID_REQUEST, "每个支付订单的部分退款次数不能超过50次")
        paid = order.payer_total if order.payer_total is not None else order.total
        if refunded + draft.refund > paid:
            raise DomainError(
                ErrorCode.REFUND_AMOUNT_EXCEEDED,
                f"申请退款金额超过订单可退金额（可退{paid - refunded}分）",
                field="amount.refund",
                value=draft.refund,
            )

    # --- settling --------------------------------------------------------------------------------------

    def settle_due(self, limit: int = BATCH) -> int:
        """Turn PROCESSING refunds whose delay has run out into SUCCESS; return how many."""
        with self._hint_lock:
            created_before = self._created
        now = self.clock.now()
        with self.uow() as uow:
            due = uow.refunds.due(now, limit)
        settled = 0
        for refund_pk, order_id in due:
            if self._settle(refund_pk, order_id, RefundStatus.SUCCESS, due_only=True) is not None:
                settled += 1
        with self.uow() as uow:
            next_due = uow.refunds.next_due()
        with self._hint_lock:
            # A refund created meanwhile may be missing from next_due: then look again at the next read.
            self._hint_known = self._created == created_before
            self._next_due = next_due
        return settled

    def settle_if_due(self) -> None:
        """Settle due refunds before a read, cheaply: only when one may be due."""
        with self._hint_lock:
            known, next_due = self._hint_known, self._next_due
        if known and (next_due is None or self.clock.now() < next_due):
            return
        self.settle_due()

    def finish(self, mchid: str, out_refund_no: str, status: RefundStatus) -> Refund:
        """The control plane's outcome for a PROCESSING refund: SUCCESS, ABNORMAL or CLOSED, now."""
        if status is RefundStatus.PROCESSING:
            raise DomainError(ErrorCode.PARAM_ERROR, "status must be SUCCESS, ABNORMAL or CLOSED")
        with self.uow() as uow:
            found = uow.refunds.by_out_refund_no(mchid, out_refund_no)
        if found is None:
            raise DomainError(ErrorCode.RESOURCE_NOT_EXISTS, "退款单不存在")
        settled = self._settle(found.id, found.order_id, status, due_only=False)
        if settled is None:
            current = self.get(mchid, out_refund_no, found.sp_mchid)
            raise DomainError(
                ErrorCode.ILLEGAL_TRANSITION, f"refund status {current.status} cannot become {status}"
            )
        return settled

    def _settle(
        self, refund_pk: int, order_id: int, status: RefundStatus, *, due_only: bool
    ) -> Refund | None:
        """Move one PROCESSING refund to ``status`` (None if it is no longer PROCESSING, or not due).
        The order row is locked first, as ``create`` does, so the two never wait on each other."""
        now = self.clock.now()
        with self.uow() as uow:
            orders = uow.orders
            order = orders.get(order_id, lock=True)
            repo = uow.refunds
            refund = repo.get(refund_pk, lock=True)
            if order is None or refund is None or refund.status is not RefundStatus.PROCESSING:
                return None
            if due_only and (refund.due_at is None or refund.due_at > now):
                return None
            changes: dict[str, Any] = {"status": status, "updated_at": now, "due_at": None}
            if status is RefundStatus.SUCCESS:
                changes.update(success_time=now, user_received_account=USER_RECEIVED_ACCOUNT, channel=CHANNEL)
                if order.state is TradeState.SUCCESS:
                    target = check_transition(order.state, TradeState.REFUND)
                    order = orders.update(
                        order.id, state=target.value, state_desc=DESCRIPTIONS[target], updated_at=now
                    )
            refund = repo.update(refund.id, **changes)
            if refund.notify_url:
                self.on_settled(uow, order, refund)
            return refund

    # --- reading ---------------------------------------------------------------------------------------

    def get(self, mchid: str, out_refund_no: str, sp_mchid: str | None = None) -> Refund:
        """A refund of ``mchid`` (the sub-merchant, for partner calls, with its provider ``sp_mchid``)."""
        self.settle_if_due()
        with self.uow() as uow:
            found = uow.refunds.by_out_refund_no(mchid, out_refund_no)
        if found is None or found.sp_mchid != sp_mchid:
            raise DomainError(ErrorCode.RESOURCE_NOT_EXISTS, "退款单不存在")
        return found

    def by_refund_id(self, mchid: str, refund_id: str, sp_mchid: str | None = None) -> Refund:
        """A refund of ``mchid`` by WeChat's ``refund_id`` (scoped as :meth:`get`)."""
        self.settle_if_due()
        with self.uow() as uow:
            found = uow.refunds.by_refund_id(refund_id)
        if found is None or found.mchid != mchid or found.sp_mchid != sp_mchid:
            raise DomainError(ErrorCode.RESOURCE_NOT_EXISTS, "退款单不存在")
        return found

    def list(self, mchid: str | None = None, limit: int = 200, before: int | None = None) -> list[Refund]:
        self.settle_if_due()
        with self.uow() as uow:
            return uow.refunds.recent(mchid, limit, before)

    def order_of(self, mchid: str, out_trade_no: str) -> Order | None:
        """The order a refund by ``mchid`` and ``out_trade_no`` would be of (None: no such order)."""
        with self.uow() as uow:
            return uow.orders.by_out_trade_no(mchid, out_trade_no)

    def for_orders(self, order_ids: Sequence[int]) -> dict[int, builtins.list[Refund]]:
        """The refunds of each order, oldest first."""
        self.settle_if_due()
        with self.uow() as uow:
            return uow.refunds.for_orders(order_ids)

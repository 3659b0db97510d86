"""Domain rules of refunds (WeChat's 申请退款 / 查询单笔退款 pages) on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from typing import Any

import pytest

from tests.support.domain import paid_order
from wxpay_emulator.crypto import aead
from wxpay_emulator.domain.errors import DomainError, ErrorCode
from wxpay_emulator.domain.models import (
    KeyMode,
    Merchant,
    Notification,
    Order,
    OrderDraft,
    PaymentResult,
    Refund,
    RefundDraft,
    RefundStatus,
)
from wxpay_emulator.domain.services import Domain
from wxpay_emulator.domain.states import TradeState

NOTIFY = "http://127.0.0.1:1/refund-notify"
DELAY = 5.0  # Settings' default refund_delay_seconds, which the domain fixture uses


def ask(order: Order, out_refund_no: str = "REFUND0001", refund: int = 100, **changes: Any) -> RefundDraft:
    base = RefundDraft(
        mchid=order.mchid,
        sp_mchid=order.sp_mchid,
        out_refund_no=out_refund_no,
        out_trade_no=order.out_trade_no,
        refund=refund,
        total=order.total,
        currency="CNY",
        family="v3",
        reason="商品已售完",
        notify_url=NOTIFY,
    )
    return replace(base, **changes)


def refused(domain: Domain, draft: RefundDraft) -> ErrorCode:
    with pytest.raises(DomainError) as info:
        domain.refunds.create(draft)
    return info.value.code


def refund_notices(domain: Domain, m: Merchant) -> list[Notification]:
    return [n for n, _ in domain.notifications.list(m.mchid) if n.family == "v3refund"]


def decrypt(m: Merchant, n: Notification) -> dict[str, Any]:
    body = json.loads(n.body)
    resource = body["resource"]
    assert resource["original_type"] == "refund" and resource["associated_data"] == "refund"
    plain = aead.decrypt(m.apiv3_key.encode(), resource["nonce"].encode(), b"refund", resource["ciphertext"])
    data: dict[str, Any] = json.loads(plain)
    return data


@pytest.mark.both_databases
def test_full_refund_succeeds_after_the_delay_and_the_order_becomes_refund(
    domain: Domain, merchant: Merchant
) -> None:
    order = paid_order(domain, merchant, description="refund me")
    refund = domain.refunds.create(ask(order))
    assert refund.status is RefundStatus.PROCESSING and refund.success_time is None
    assert len(refund.refund_id) == 29 and refund.refund_id.startswith("50")
    assert refund.transaction_id == order.transaction_id and refund.out_trade_no == order.out_trade_no
    assert domain.refunds.get(merchant.mchid, "REFUND0001").status is RefundStatus.PROCESSING
    assert domain.orders.find(merchant.mchid, out_trade_no=order.out_trade_no).state is TradeState.SUCCESS
    assert refund_notices(domain, merchant) == []

    domain.advance_clock(DELAY + 1)
    done = domain.refunds.get(merchant.mchid, "REFUND0001")
    assert done.status is RefundStatus.SUCCESS and done.success_time is not None
    assert done.user_received_account == "支付用户零钱" and done.channel == "ORIGINAL"
    order_now = domain.orders.find(merchant.mchid, out_trade_no=order.out_trade_no)
    assert order_now.state is TradeState.REFUND
    assert order_now.state_desc == "订单发生过退款，退款详情请查询退款单"

    [notice] = refund_notices(domain, merchant)
    assert notice.event_type == "REFUND.SUCCESS" and notice.url == NOTIFY
    assert json.loads(notice.body)["summary"] == "退款成功"
    resource = decrypt(merchant, notice)
    assert resource["mchid"] == merchant.mchid and "sp_mchid" not in resource
    assert resource["refund_status"] == "SUCCESS" and resource["out_refund_no"] == "REFUND0001"
    assert resource["transaction_id"] == order.transaction_id
    assert resource["amount"] == {"total": 100, "refund": 100, "payer_total": 100, "payer_refund": 100}


def test_an_order_read_after_the_delay_is_refund_without_a_refund_query(
    domain: Domain, merchant: Merchant
) -> None:
    order = paid_order(domain, merchant, description="refund me")
    domain.refunds.create(ask(order, refund=30))
    domain.advance_clock(DELAY + 1)
    assert domain.orders.find(merchant.mchid, out_trade_no=order.out_trade_no).state is TradeState.REFUND


def test_partial_refunds_never_exceed_the_paid_total(domain: Domain, merchant: Merchant) -> None:
    order = paid_order(domain, merchant, description="refund me")
    domain.refunds.create(ask(order, "PART1", 40))
    domain.refunds.create(ask(order, "PART2", 50))
    assert refused(domain, ask(order, "PART3", 11)) is ErrorCode.REFUND_AMOUNT_EXCEEDED
    domain.advance_clock(DELAY + 1)
    # Succeeded refunds still count; exactly the remainder is accepted.
    assert refused(domain, ask(order, "PART3", 11)) is ErrorCode.REFUND_AMOUNT_EXCEEDED
    last = domain.refunds.create(ask(order, "PART4", 10))
    assert last.status is RefundStatus.PROCESSING
    assert refused(domain, ask(order, "PART5", 1)) is ErrorCode.REFUND_AMOUNT_EXCEEDED


def test_a_closed_refund_gives_its_amount_back_and_an_abnormal_one_does_not(
    domain: Domain, merchant: Merchant
) -> None:
    order = paid_order(domain, merchant, description="refund me")
    domain.refunds.create(ask(order, "CLOSEME", 60))
    domain.refunds.create(ask(order, "ABNORMAL", 40))
    abnormal = domain.refunds.finish(merchant.mchid, "ABNORMAL", RefundStatus.ABNORMAL)
    assert abnormal.status is RefundStatus.ABNORMAL and abnormal.success_time is None
    assert refused(domain, ask(order, "AGAIN", 60)) is ErrorCode.REFUND_AMOUNT_EXCEEDED
    closed = domain.refunds.finish(merchant.mchid, "CLOSEME", RefundStatus.CLOSED)
    assert closed.status is RefundStatus.CLOSED
    assert domain.refunds.create(ask(order, "AGAIN", 60)).status is RefundStatus.PROCESSING
    # Neither outcome refunds money: the order stays SUCCESS.
    assert domain.orders.find(merchant.mchid, out_trade_no=order.out_trade_no).state is TradeState.SUCCESS
    events = sorted(n.event_type for n in refund_notices(domain, merchant))
    assert events == ["REFUND.ABNORMAL", "REFUND.CLOSED"]
    # A final refund does not move again, by the control plane or by the delay.
    with pytest.raises(DomainError) as info:
        domain.refunds.finish(merchant.mchid, "CLOSEME", RefundStatus.SUCCESS)
    assert info.value.code is ErrorCode.ILLEGAL_TRANSITION
    domain.advance_clock(DELAY + 1)
    assert domain.refunds.get(merchant.mchid, "CLOSEME").status is RefundStatus.CLOSED
    assert domain.refunds.get(merchant.mchid, "AGAIN").status is RefundStatus.SUCCESS


def test_only_paid_orders_are_refundable(domain: Domain, merchant: Merchant) -> None:
    paid = paid_order(domain, merchant, description="refund me")
    unpaid = domain.orders.place(replace_order(paid, "UNPAID01"))
    assert refused(domain, ask(unpaid)) is ErrorCode.RESOURCE_NOT_EXISTS
    unknown = replace(ask(paid), out_trade_no="NOSUCHORDER")
    assert refused(domain, unknown) is ErrorCode.RESOURCE_NOT_EXISTS
    by_foreign_id = replace(ask(paid), out_trade_no=None, transaction_id="4200000000000000000000000000")
    assert refused(domain, by_foreign_id) is ErrorCode.RESOURCE_NOT_EXISTS


def replace_order(order: Order, out_trade_no: str) -> OrderDraft:
    return OrderDraft(
        mchid=order.mchid,
        appid=order.appid,
        out_trade_no=out_trade_no,
        trade_type="NATIVE",
        description="unpaid",
        total=100,
        currency="CNY",
        notify_url="http://127.0.0.1:1/notify",
        family="v3",
    )


def test_amount_total_must_be_the_orders_and_the_period_is_a_year(domain: Domain, merchant: Merchant) -> None:
    order = paid_order(domain, merchant, description="refund me")
    assert refused(domain, ask(order, total=99)) is ErrorCode.INVALID_REQUEST
    assert refused(domain, ask(order, refund=0)) is ErrorCode.PARAM_ERROR
    domain.advance_clock(366 * 86400)
    assert refused(domain, ask(order)) is ErrorCode.REFUND_PERIOD_EXPIRED


@pytest.mark.both_databases
def test_out_refund_no_is_idempotent_per_merchant(domain: Domain, merchant: Merchant) -> None:
    order = paid_order(domain, merchant, description="refund me")
    first = domain.refunds.create(ask(order, refund=20))
    again = domain.refunds.create(ask(order, refund=20))
    assert again.id == first.id and again.refund_id == first.refund_id
    # The same order named by its transaction_id is the same request.
    by_id = domain.refunds.create(
        replace(ask(order, refund=20), out_trade_no=None, transaction_id=order.transaction_id)
    )
    assert by_id.id == first.id
    assert refused(domain, ask(order, refund=21)) is ErrorCode.OUT_REFUND_NO_USED
    assert refused(domain, ask(order, refund=20, reason="另一个原因")) is ErrorCode.OUT_REFUND_NO_USED
    # Still the same refund after it succeeded, even though the order is now REFUND.
    domain.advance_clock(DELAY + 1)
    assert domain.refunds.create(ask(order, refund=20)).status is RefundStatus.SUCCESS


def test_a_refund_without_notify_url_sends_no_notice(domain: Domain, merchant: Merchant) -> None:
    order = paid_order(domain, merchant, description="refund me")
    domain.refunds.create(ask(order, notify_url=None))
    domain.advance_clock(DELAY + 1)
    assert domain.refunds.settle_due() == 1
    assert refund_notices(domain, merchant) == []


def test_partner_refunds_are_scoped_to_the_provider(domain: Domain) -> None:
    provider = domain.merchants.create(None, None, KeyMode.PUBKEY)
    sub = domain.merchants.create(None, None, KeyMode.PUBKEY, (), provider.mchid)
    domain.orders.place(
        OrderDraft(
            mchid=sub.mchid,
            appid=provider.appid,
            out_trade_no="PARTNER01",
            trade_type="NATIVE",
            description="partner",
            total=88,
            currency="CNY",
            notify_url="http://127.0.0.1:1/n",
            family="v3",
            sp_mchid=provider.mchid,
        )
    )
    order = domain.orders.pay(result=PaymentResult.SUCCESS, mchid=sub.mchid, out_trade_no="PARTNER01")
    assert refused(domain, replace(ask(order, refund=88), sp_mchid=None)) is ErrorCode.RESOURCE_NOT_EXISTS
    refund = domain.refunds.create(ask(order, refund=88))
    assert refund.sp_mchid == provider.mchid
    with pytest.raises(DomainError):
        domain.refunds.get(sub.mchid, refund.out_refund_no)
    domain.refunds.finish(sub.mchid, refund.out_refund_no, RefundStatus.SUCCESS)
    [notice] = refund_notices(domain, provider)
    resource = decrypt(provider, notice)
    assert resource["sp_mchid"] == provider.mchid and resource["sub_mchid"] == sub.mchid
    assert "mchid" not in resource


@pytest.mark.both_databases
def test_concurrent_partial_refunds_never_refund_more_than_was_paid(
    domain: Domain, merchant: Merchant
) -> None:
    order = paid_order(domain, merchant, total=1000, description="refund me")
    accepted: list[Refund] = []
    refusals: list[ErrorCode] = []
    lock = threading.Lock()
    start = threading.Barrier(16)

    def one(i: int) -> None:
        start.wait(10)
        try:
            refund = domain.refunds.create(ask(order, f"PAR{i:03d}", 150))
        except DomainError as exc:
            with lock:
                refusals.append(exc.code)
        else:
            with lock:
                accepted.append(refund)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads)
    assert len(accepted) == 6 and sum(r.refund for r in accepted) == 900
    assert refusals == [ErrorCode.REFUND_AMOUNT_EXCEEDED] * 10


@pytest.mark.both_databases
def test_a_refund_is_found_by_its_refund_id_within_its_merchant(domain: Domain, merchant: Merchant) -> None:
    order = paid_order(domain, merchant, description="refund me")
    refund = domain.refunds.create(ask(order, refund=10))
    assert domain.refunds.by_refund_id(merchant.mchid, refund.refund_id).id == refund.id
    with pytest.raises(DomainError) as info:
        domain.refunds.by_refund_id("1900009999", refund.refund_id)
    assert info.value.code is ErrorCode.RESOURCE_NOT_EXISTS
    domain.advance_clock(DELAY + 1)
    [listed] = domain.refunds.for_orders([order.id])[order.id]
    assert listed.status is RefundStatus.SUCCESS

"""Domain rules of orders (seed 004, DESIGN.md §2) on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tests.support.domain import order_draft
from wxpay_emulator.crypto import aead
from wxpay_emulator.domain.errors import DomainError, ErrorCode
from wxpay_emulator.domain.models import (
    DeliveryAttempt,
    Merchant,
    NotificationStatus,
    PaymentResult,
)
from wxpay_emulator.domain.services import Domain
from wxpay_emulator.domain.states import TradeState
from wxpay_emulator.notify.schedule import next_delay
from wxpay_emulator.storage.db import Store


def code_of(exc: pytest.ExceptionInfo[DomainError]) -> ErrorCode:
    return exc.value.code


def test_reentry_with_identical_parameters_returns_the_live_prepay_id(
    domain: Domain, merchant: Merchant
) -> None:
    first = domain.orders.place(order_draft(merchant))
    again = domain.orders.place(order_draft(merchant))
    assert again.id == first.id
    assert again.prepay_id == first.prepay_id
    assert first.state is TradeState.NOTPAY


@pytest.mark.both_databases
def test_reentry_after_two_hours_gets_a_fresh_prepay_id_for_the_same_order(
    domain: Domain, merchant: Merchant
) -> None:
    first = domain.orders.place(order_draft(merchant))
    domain.advance_clock(2 * 3600 + 1)
    with pytest.raises(DomainError) as info:
        domain.orders.pay(result=PaymentResult.SUCCESS, prepay_id=first.prepay_id)
    assert code_of(info) is ErrorCode.ORDER_EXPIRED
    again = domain.orders.place(order_draft(merchant))
    assert again.id == first.id and again.prepay_id != first.prepay_id
    assert (
        domain.orders.pay(result=PaymentResult.SUCCESS, prepay_id=again.prepay_id).state is TradeState.SUCCESS
    )


def test_reentry_with_other_parameters_is_refused(domain: Domain, merchant: Merchant) -> None:
    domain.orders.place(order_draft(merchant))
    for change in ({"total": 101}, {"description": "other"}, {"attach": "x"}, {"payer_openid": "o2"}):
        with pytest.raises(DomainError) as info:
            domain.orders.place(order_draft(merchant, **change))
        assert code_of(info) is ErrorCode.OUT_TRADE_NO_USED


def test_time_expire_is_raised_to_one_minute_and_cannot_change(domain: Domain, merchant: Merchant) -> None:
    now = domain.clock.now()
    soon = now + dt.timedelta(seconds=10)
    order = domain.orders.place(order_draft(merchant, time_expire=soon))
    assert order.time_expire is not None
    assert order.time_expire - now >= dt.timedelta(seconds=59)
    assert order.prepay_expires_at == order.time_expire
    with pytest.raises(DomainError) as info:
        domain.orders.place(order_draft(merchant, time_expire=now + dt.timedelta(hours=1)))
    assert code_of(info) is ErrorCode.OUT_TRADE_NO_USED
    domain.advance_clock(61)
    with pytest.raises(DomainError) as info:
        domain.orders.place(order_draft(merchant, time_expire=soon))
    assert code_of(info) is ErrorCode.ORDER_EXPIRED
    with pytest.raises(DomainError) as info:
        domain.orders.pay(result=PaymentResult.SUCCESS, mchid=merchant.mchid, out_trade_no="ORDER0001")
    assert code_of(info) is ErrorCode.ORDER_EXPIRED


def test_appid_must_be_bound_and_merchant_must_exist(domain: Domain, merchant: Merchant) -> None:
    with pytest.raises(DomainError) as info:
        domain.orders.place(order_draft(merchant, appid="wx0000000000000000"))
    assert code_of(info) is ErrorCode.APPID_MCHID_NOT_MATCH
    assert (
        domain.orders.place(order_draft(merchant, appid="wx1111111111111111")).appid == "wx1111111111111111"
    )
    with pytest.raises(DomainError) as info:
        domain.orders.place(order_draft(merchant, mchid="1234567890"))
    assert code_of(info) is ErrorCode.MCH_NOT_EXISTS


@pytest.mark.both_databases
def test_pay_writes_the_notification_in_the_same_transaction(domain: Domain, merchant: Merchant) -> None:
    order = domain.orders.place(order_draft(merchant, attach="自定义数据"))
    paid = domain.orders.pay(result=PaymentResult.SUCCESS, prepay_id=order.prepay_id)
    assert paid.state is TradeState.SUCCESS
    assert paid.transaction_id is not None and len(paid.transaction_id) == 28
    assert paid.payer_total == 100 and paid.success_time is not None
    [(n, attempts)] = domain.notifications.list(merchant.mchid)
    assert attempts == [] and n.status is NotificationStatus.PENDING and n.order_id == order.id
    body = json.loads(n.body)
    assert body["event_type"] == "TRANSACTION.SUCCESS" and body["id"] == n.id
    res = body["resource"]
    plain = aead.decrypt(
        merchant.apiv3_key.encode(), res["nonce"].encode(), res["associated_data"].encode(), res["ciphertext"]
    )
    resource = json.loads(plain)
    assert resource["transaction_id"] == paid.transaction_id
    assert resource["trade_state"] == "SUCCESS" and resource["attach"] == "自定义数据"


def test_paid_and_closed_orders_answer_their_codes(domain: Domain, merchant: Merchant) -> None:
    order = domain.orders.place(order_draft(merchant, "PAID0001"))
    domain.orders.pay(result=PaymentResult.SUCCESS, prepay_id=order.prepay_id)
    for call in (
        lambda: domain.orders.place(order_draft(merchant, "PAID0001")),
        lambda: domain.orders.pay(result=PaymentResult.SUCCESS, prepay_id=order.prepay_id),
        lambda: domain.orders.close(merchant.mchid, "PAID0001"),
    ):
        with pytest.raises(DomainError) as info:
            call()
        assert code_of(info) is ErrorCode.ORDER_PAID
    domain.orders.place(order_draft(merchant, "SHUT0001"))
    assert domain.orders.close(merchant.mchid, "SHUT0001").state is TradeState.CLOSED
    assert domain.orders.close(merchant.mchid, "SHUT0001").state is TradeState.CLOSED  # idempotent
    with pytest.raises(DomainError) as info:
        domain.orders.place(order_draft(merchant, "SHUT0001"))
    assert code_of(info) is ErrorCode.ORDER_CLOSED
    with pytest.raises(DomainError) as info:
        domain.orders.close(merchant.mchid, "NOSUCH01")
    assert code_of(info) is ErrorCode.ORDER_NOT_EXIST


def test_payer_failures(domain: Domain, merchant: Merchant) -> None:
    order = domain.orders.place(order_draft(merchant, "FAIL0001"))
    with pytest.raises(DomainError) as info:
        domain.orders.pay(result=PaymentResult.NOTENOUGH, prepay_id=order.prepay_id)
    assert code_of(info) is ErrorCode.NOT_ENOUGH
    assert domain.orders.find(merchant.mchid, out_trade_no="FAIL0001").state is TradeState.NOTPAY
    assert (
        domain.orders.pay(result=PaymentResult.USERPAYING, prepay_id=order.prepay_id).state
        is TradeState.USERPAYING
    )
    assert (
        domain.orders.pay(result=PaymentResult.PAYERROR, prepay_id=order.prepay_id).state
        is TradeState.PAYERROR
    )
    with pytest.raises(DomainError) as info:
        domain.orders.pay(result=PaymentResult.SUCCESS, prepay_id=order.prepay_id)
    assert code_of(info) is ErrorCode.ORDER_NOT_PAYABLE
    assert domain.notifications.list(merchant.mchid) == []
    with pytest.raises(DomainError) as info:
        domain.orders.pay(result=PaymentResult.SUCCESS, prepay_id=order.prepay_id, openid="someone-else")
    assert code_of(info) is ErrorCode.ORDER_NOT_PAYABLE


@pytest.mark.both_databases
def test_retry_schedule_then_give_up(domain: Domain, merchant: Merchant) -> None:
    order = domain.orders.place(order_draft(merchant, "RETRY001"))
    domain.orders.pay(result=PaymentResult.SUCCESS, prepay_id=order.prepay_id)
    [n] = domain.notifications.due(10)
    for i in range(16):
        attempt = DeliveryAttempt(n.id, domain.clock.now(), {}, 500, "", None, 1.0)
        domain.notifications.record_attempt(attempt, acknowledged=False)
        current = domain.notifications.get(n.id)
        assert current.attempts == i + 1
        if i < 15:
            assert current.status is NotificationStatus.PENDING
            assert current.next_attempt_at is not None
            assert domain.notifications.due(10) == []  # not before the schedule says
            domain.advance_clock(next_delay(i + 1) or 0)
            assert [d.id for d in domain.notifications.due(10)] == [n.id]
    assert current.status is NotificationStatus.FAILED and current.next_attempt_at is None
    domain.notifications.redeliver(n.id)
    assert domain.notifications.get(n.id).status is NotificationStatus.PENDING
    [(listed, attempts)] = domain.notifications.list(merchant.mchid)
    assert listed.id == n.id and len(attempts) == 16


def test_find_by_transaction_id_is_scoped_to_the_merchant(domain: Domain, merchant: Merchant) -> None:
    order = domain.orders.place(order_draft(merchant, "SCOPE001"))
    paid = domain.orders.pay(result=PaymentResult.SUCCESS, prepay_id=order.prepay_id)
    assert paid.transaction_id is not None
    assert domain.orders.find(merchant.mchid, transaction_id=paid.transaction_id).id == order.id
    with pytest.raises(DomainError):
        domain.orders.find("1999999999", transaction_id=paid.transaction_id)


@pytest.mark.both_databases
def test_clock_offset_survives_a_new_domain(domain: Domain, store: Store) -> None:
    domain.advance_clock(600)
    from wxpay_emulator.app import build_domain
    from wxpay_emulator.config import Settings

    again = build_domain(store, Settings())
    assert again.clock.offset_seconds == pytest.approx(600)
    with pytest.raises(DomainError):
        domain.advance_clock(-1)

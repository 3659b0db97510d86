"""The notification dispatcher (notify/dispatcher.py)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from wxpay_emulator.domain.models import (
    Merchant,
    NotificationStatus,
    OrderDraft,
    PaymentResult,
)
from wxpay_emulator.domain.services import Domain
from wxpay_emulator.notify.dispatcher import Dispatcher


@pytest.mark.both_databases
def test_an_undeliverable_url_is_a_failed_attempt_not_a_stuck_row(domain: Domain, merchant: Merchant) -> None:
    """Even a URL httpx cannot build (stored before validation existed) follows WeChat's schedule."""
    draft = OrderDraft(
        mchid=merchant.mchid,
        appid=merchant.appid,
        out_trade_no="BADURL001",
        trade_type="NATIVE",
        description="d",
        total=1,
        currency="CNY",
        notify_url="http://127.0.0.1:99999/x",
        family="v3",
    )
    order = domain.orders.place(draft)
    domain.orders.pay(result=PaymentResult.SUCCESS, prepay_id=order.prepay_id)
    dispatcher = Dispatcher(domain, timeout_seconds=2, poll_seconds=0.1)

    async def one_pass() -> int:
        async with httpx.AsyncClient(timeout=2, trust_env=False) as client:
            return await dispatcher.deliver_due(client)

    assert asyncio.run(one_pass()) == 1
    [(n, attempts)] = domain.notifications.list(merchant.mchid)
    assert n.status is NotificationStatus.PENDING and n.attempts == 1 and n.next_attempt_at is not None
    assert attempts[0].response_status is None and attempts[0].error
    assert domain.notifications.due(10) == []  # the schedule, not every poll

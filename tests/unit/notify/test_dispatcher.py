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


@pytest.mark.both_databases
def test_stopping_waits_for_the_pass_and_keeps_no_row_claimed(domain: Domain, merchant: Merchant) -> None:
    """stop() during a pass lets the pass's store calls finish and gives back what it claimed: a
    claimed row left leased would go undelivered for a whole lease after a restart."""
    for i in range(3):
        draft = OrderDraft(
            mchid=merchant.mchid, appid=merchant.appid, out_trade_no=f"STOP{i:04d}", trade_type="NATIVE",
            description="d", total=1, currency="CNY", notify_url="http://127.0.0.1:9/n", family="v3",
        )  # fmt: skip
        domain.orders.pay(result=PaymentResult.SUCCESS, prepay_id=domain.orders.place(draft).prepay_id)
    dispatcher = Dispatcher(domain, timeout_seconds=2, poll_seconds=0.1)
    claim = domain.notifications.claim
    claiming = __import__("threading").Event()

    def slow_claim(*args: object) -> object:
        claiming.set()
        __import__("time").sleep(0.3)  # stop() arrives while the claim is on its worker thread
        return claim(*args)  # type: ignore[arg-type]

    domain.notifications.claim = slow_claim  # type: ignore[method-assign]

    async def start_then_stop() -> None:
        await dispatcher.start()
        while not claiming.is_set():
            await asyncio.sleep(0.01)
        await dispatcher.stop()

    asyncio.run(start_then_stop())
    del domain.notifications.claim
    # Nothing is held by the stopped dispatcher: a row it did not attempt is claimable at once.
    claimed = {n.id for n in domain.notifications.claim("other", 10, 60.0, [])}
    rows = domain.notifications.list(merchant.mchid)
    assert len(rows) == 3
    assert all(n.attempts >= 1 or n.id in claimed for n, _ in rows), [(n.id, n.attempts) for n, _ in rows]

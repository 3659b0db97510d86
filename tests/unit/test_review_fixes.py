"""Regression tests for defects found in review: bad notify URLs, duplicate appids, combine sub-orders
seen through the direct API, wake-after-commit, and the clock offset upsert."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace

import httpx
import pytest
from pydantic import ValidationError

from wxpay_emulator.domain.errors import DomainError, ErrorCode
from wxpay_emulator.domain.models import (
    CombineDraft,
    KeyMode,
    Merchant,
    NotificationStatus,
    OrderDraft,
    PaymentResult,
    SubOrderDraft,
)
from wxpay_emulator.domain.services import Domain
from wxpay_emulator.notify.dispatcher import Dispatcher
from wxpay_emulator.storage.db import Store, after_commit
from wxpay_emulator.wire.v3 import DirectPrepayRequest


def body(notify_url: str) -> dict[str, object]:
    return {
        "appid": "wx1",
        "mchid": "1900000001",
        "description": "d",
        "out_trade_no": "ORDER0001",
        "notify_url": notify_url,
        "amount": {"total": 1},
    }


@pytest.mark.parametrize("url", ["http://127.0.0.1:99999/x", "http:///x", "ftp://example.com/x"])
def test_notify_url_must_be_deliverable(url: str) -> None:
    with pytest.raises(ValidationError):
        DirectPrepayRequest.model_validate(body(url))
    assert DirectPrepayRequest.model_validate(body("http://127.0.0.1:65535/n")).notify_url.endswith("/n")


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


def test_duplicate_appids_are_bound_once(domain: Domain) -> None:
    m = domain.merchants.create(None, None, KeyMode.PUBKEY, ("wxaaaaaaaaaaaaaaaa", "wxaaaaaaaaaaaaaaaa"))
    assert m.appids == ("wxaaaaaaaaaaaaaaaa",)
    with pytest.raises(DomainError) as info:
        domain.merchants.create(m.mchid)
    assert info.value.code is ErrorCode.MERCHANT_EXISTS


def test_combine_sub_orders_are_invisible_to_the_direct_api(domain: Domain, merchant: Merchant) -> None:
    other = domain.merchants.create(None, None, KeyMode.PUBKEY, (merchant.appid,))
    sub = SubOrderDraft(
        mchid=merchant.mchid, out_trade_no="SUBA000001", total=1, currency="CNY", attach="a", description="d"
    )
    draft = CombineDraft(
        combine_mchid=merchant.mchid,
        combine_appid=merchant.appid,
        combine_out_trade_no="COMBINE001",
        trade_type="APP",
        notify_url="http://127.0.0.1:1/n",
        sub_orders=(sub, replace(sub, mchid=other.mchid, out_trade_no="SUBB000001")),
        family="v3",
    )
    domain.combines.place(draft)
    for call in (
        lambda: domain.orders.find(merchant.mchid, out_trade_no="SUBA000001"),
        lambda: domain.orders.close(merchant.mchid, "SUBA000001"),
    ):
        with pytest.raises(DomainError) as info:
            call()
        assert info.value.code is ErrorCode.ORDER_NOT_EXIST
    states = [o.state.value for o in domain.combines.find(merchant.mchid, "COMBINE001").sub_orders]
    assert states == ["NOTPAY", "NOTPAY"]


@pytest.mark.both_databases
def test_after_commit_runs_only_after_a_commit(store: Store) -> None:
    seen: list[str] = []
    with store.transaction() as conn:
        after_commit(conn, lambda: seen.append("committed"))
        assert seen == []
    assert seen == ["committed"]
    with pytest.raises(RuntimeError), store.transaction() as conn:
        after_commit(conn, lambda: seen.append("rolled back"))
        raise RuntimeError
    assert seen == ["committed"]


@pytest.mark.both_databases
def test_clock_offset_accumulates_through_the_store(domain: Domain) -> None:
    assert domain.advance_clock(10) == pytest.approx(10)
    domain.clock.set_offset(0)  # another process's view: the stored value wins
    assert domain.advance_clock(5) == pytest.approx(15)
    assert json.loads(json.dumps(domain.clock.offset_seconds)) == pytest.approx(15)

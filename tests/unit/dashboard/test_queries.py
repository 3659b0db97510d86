"""The small queries the dashboard added to the domain, on SQLite and PostgreSQL: an order by id, the
orders filtered and searched, the families that placed orders, an order's notifications."""

from __future__ import annotations

import pytest

from tests.support.domain import order_draft as draft
from wxpay_emulator.domain.errors import DomainError, ErrorCode
from wxpay_emulator.domain.models import Merchant, PaymentResult
from wxpay_emulator.domain.services import Domain

# New repository queries: their SQL runs on both dialects.
pytestmark = pytest.mark.both_databases


def test_search_filters_and_finds_by_either_number(domain: Domain, merchant: Merchant) -> None:
    v3 = domain.orders.place(draft(merchant, "QUERYV3001"))
    v2 = domain.orders.place(draft(merchant, "QUERYV2001", family="v2"))
    paid = domain.orders.pay(result=PaymentResult.SUCCESS, mchid=merchant.mchid, out_trade_no="QUERYV3001")
    assert paid.transaction_id is not None

    def numbers(**filters: str) -> list[str]:
        return [o.out_trade_no for o in domain.orders.search(**filters)]  # type: ignore[arg-type]

    assert numbers(mchid=merchant.mchid) == ["QUERYV2001", "QUERYV3001"]  # newest first
    assert numbers(state="SUCCESS") == ["QUERYV3001"]
    assert numbers(family="v2") == ["QUERYV2001"]
    assert numbers(state="SUCCESS", family="v2") == []
    assert numbers(number="QUERYV2001") == ["QUERYV2001"]
    assert numbers(number=paid.transaction_id) == ["QUERYV3001"]
    assert numbers(number="QUERYV2") == []  # exact, not a prefix
    assert numbers(mchid="0000000000") == []
    assert domain.orders.families() == ["v2", "v3"]
    assert domain.orders.get(v2.id).out_trade_no == "QUERYV2001"
    assert domain.orders.get(v3.id).updated_at is not None
    with pytest.raises(DomainError) as missing:
        domain.orders.get(v2.id + 1000)
    assert missing.value.code is ErrorCode.ORDER_NOT_EXIST


def test_an_orders_notifications_and_one_notifications_attempts(domain: Domain, merchant: Merchant) -> None:
    order = domain.orders.place(draft(merchant, "QUERYNOTE1"))
    other = domain.orders.place(draft(merchant, "QUERYNOTE2"))
    assert domain.notifications.for_order(order.id) == []
    domain.orders.pay(result=PaymentResult.SUCCESS, mchid=merchant.mchid, out_trade_no="QUERYNOTE1")
    domain.orders.pay(result=PaymentResult.SUCCESS, mchid=merchant.mchid, out_trade_no="QUERYNOTE2")
    [(note, attempts)] = domain.notifications.for_order(order.id)
    assert note.order_id == order.id and attempts == []
    assert [n.order_id for n, _ in domain.notifications.for_order(other.id)] == [other.id]
    found, found_attempts = domain.notifications.detail(note.id)
    assert found == note and found_attempts == []
    with pytest.raises(DomainError) as missing:
        domain.notifications.detail("no-such-notification")
    assert missing.value.code is ErrorCode.NOTIFICATION_NOT_FOUND

"""The unit of work the domain talks to (domain/ports.py, storage/uow.py), on SQLite and PostgreSQL:
commit or nothing, after_commit only after a commit, and a unique-key collision as the domain's
Conflict with nothing of the unit written."""

from __future__ import annotations

import datetime as dt

import pytest

from wxpay_emulator.domain.models import App, NewOrder
from wxpay_emulator.domain.ports import Conflict, UnitOfWorkFactory
from wxpay_emulator.domain.services import Domain
from wxpay_emulator.domain.states import DESCRIPTIONS, TradeState
from wxpay_emulator.storage.db import Store
from wxpay_emulator.storage.uow import SqlUnitOfWorkFactory

NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)

pytestmark = pytest.mark.both_databases


def new_order(mchid: str, out_trade_no: str, prepay_id: str) -> NewOrder:
    return NewOrder(
        mchid=mchid,
        appid="wx1111111111111111",
        out_trade_no=out_trade_no,
        trade_type="JSAPI",
        family="v3",
        description="uow",
        total=1,
        currency="CNY",
        notify_url="http://127.0.0.1:1/n",
        fingerprint="f" * 64,
        created_at=NOW,
        time_expire=None,
        prepay_id=prepay_id,
        prepay_expires_at=NOW + dt.timedelta(hours=2),
        extras={"k": "值"},
    )


@pytest.fixture
def uow(store: Store, domain: Domain) -> UnitOfWorkFactory:
    del domain  # only for its reset before and after
    return SqlUnitOfWorkFactory(store)


def test_the_factory_is_the_domains_port(uow: UnitOfWorkFactory, store: Store) -> None:
    assert uow.dialect == store.dialect
    assert uow.inline_calls is store.inline_calls


def test_a_new_order_round_trips_and_starts_notpay(uow: UnitOfWorkFactory) -> None:
    with uow() as work:
        made = work.orders.add(new_order("1900000101", "UOW0001", "wx_uow_prepay_1"))
    with uow() as work:
        found = work.orders.by_prepay_id("wx_uow_prepay_1")
    assert found == made
    assert (found.state, found.state_desc, found.extras) == (
        TradeState.NOTPAY,
        DESCRIPTIONS[TradeState.NOTPAY],
        {"k": "值"},
    )
    assert found.created_at == NOW and found.combine_id is None


def test_a_duplicate_key_raises_conflict_and_writes_nothing(uow: UnitOfWorkFactory) -> None:
    with uow() as work:
        work.orders.add(new_order("1900000102", "UOW0002", "wx_uow_prepay_2"))
    seen: list[str] = []
    with pytest.raises(Conflict), uow() as work:
        work.after_commit(lambda: seen.append("ran"))
        work.apps.add_app(App("wxuowapp00000001", "s" * 32, None), NOW)  # written before the clash
        work.orders.add(new_order("1900000102", "UOW0002", "wx_uow_prepay_3"))
    assert seen == []
    with uow() as work:
        assert work.apps.app("wxuowapp00000001") is None  # rolled back with the clash
        assert work.orders.by_prepay_id("wx_uow_prepay_3") is None


def test_after_commit_runs_after_the_commit_and_never_after_a_rollback(uow: UnitOfWorkFactory) -> None:
    seen: list[object] = []
    with uow() as work:
        work.orders.add(new_order("1900000103", "UOW0003", "wx_uow_prepay_4"))

        def visible() -> None:
            # Runs once committed: another unit of work already sees the row.
            with uow() as other:
                seen.append(other.orders.by_prepay_id("wx_uow_prepay_4") is not None)

        work.after_commit(visible)
        assert seen == []
    assert seen == [True]
    with pytest.raises(RuntimeError), uow() as work:
        work.orders.add(new_order("1900000103", "UOW0004", "wx_uow_prepay_5"))
        work.after_commit(lambda: seen.append("rolled back"))
        raise RuntimeError("the domain refused")
    assert seen == [True]
    with uow() as work:
        assert work.orders.by_prepay_id("wx_uow_prepay_5") is None


def test_a_duplicate_merchant_raises_conflict(domain: Domain, uow: UnitOfWorkFactory) -> None:
    made = domain.merchants.create(None, None)
    with pytest.raises(Conflict), uow() as work:
        work.merchants.add(made, NOW)

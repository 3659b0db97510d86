"""The outbox lease (storage/outbox_repo.py): claimers never share a row; a lease that ran out is
taken again; the control-plane lists page with a cursor; faults and the clock live in the store."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest

from tests.support.common import poll
from wxpay_emulator.api.faults import Faults
from wxpay_emulator.app import build_domain
from wxpay_emulator.config import Settings
from wxpay_emulator.domain.models import (
    DeliveryAttempt,
    Merchant,
    NotificationStatus,
    OrderDraft,
    PaymentResult,
)
from wxpay_emulator.domain.services import Domain
from wxpay_emulator.storage.db import Store

# The lease's SQL differs by dialect (FOR UPDATE SKIP LOCKED on PostgreSQL).
pytestmark = pytest.mark.both_databases

BASE = OrderDraft(
    mchid="",
    appid="",
    out_trade_no="",
    trade_type="NATIVE",
    description="lease",
    total=1,
    currency="CNY",
    notify_url="http://127.0.0.1:1/notify",
    family="v3",
)


def paid(domain: Domain, merchant: Merchant, count: int, prefix: str) -> list[str]:
    for i in range(count):
        draft = replace(BASE, mchid=merchant.mchid, appid=merchant.appid, out_trade_no=f"{prefix}{i:05d}")
        order = domain.orders.place(draft)
        domain.orders.pay(result=PaymentResult.SUCCESS, prepay_id=order.prepay_id)
    return [n.id for n, _ in domain.notifications.list(merchant.mchid, limit=10_000)]


@pytest.fixture
def second_store(settings: Settings) -> Iterator[Store]:
    """Another process's view of the same store: its own engine (and, on SQLite, its own lock)."""
    store = Store(settings.resolved_database_url())
    yield store
    store.dispose()


@pytest.fixture
def second(second_store: Store, settings: Settings) -> Domain:
    return build_domain(second_store, settings)


def test_two_claimers_never_claim_the_same_row(domain: Domain, second: Domain, merchant: Merchant) -> None:
    ids = set(paid(domain, merchant, 60, "LEASE"))
    assert len(ids) == 60
    taken: dict[str, list[str]] = {"a": [], "b": []}
    barrier = threading.Barrier(2)

    def claimer(name: str, d: Domain) -> None:
        barrier.wait(5)
        for _ in range(100):  # bounded: 60 rows, at least one per round until none are left
            rows = d.notifications.claim(name, 7, lease_seconds=60)
            if not rows:
                return
            taken[name] += [n.id for n in rows]

    threads = [threading.Thread(target=claimer, args=(n, d)) for n, d in (("a", domain), ("b", second))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not set(taken["a"]) & set(taken["b"])
    assert sorted(taken["a"] + taken["b"]) == sorted(ids)


def test_an_expired_lease_is_claimed_again_and_a_live_one_is_not(
    domain: Domain, second: Domain, merchant: Merchant
) -> None:
    [nid] = paid(domain, merchant, 1, "EXPIRE")
    # a lease long enough to still hold at the next line on a loaded machine (0.3 s might not)
    assert [n.id for n in domain.notifications.claim("a", 10, lease_seconds=2.0)] == [nid]
    assert second.notifications.claim("b", 10, lease_seconds=60) == []  # "a" holds it
    # "a" died: once its lease runs out, "b" gets the row
    taken = poll(lambda: second.notifications.claim("b", 10, lease_seconds=60), bool, "the lease to run out")
    assert [n.id for n in taken] == [nid]
    # "a" comes back late: recording its attempt does not free "b"'s claim
    attempt = DeliveryAttempt(nid, domain.clock.now(), {}, 500, "", None, 1.0)
    domain.notifications.record_attempts([(attempt, False)], "a")
    domain.advance_clock(3600)
    assert domain.notifications.claim("a", 10, lease_seconds=60) == []
    second.notifications.release([nid], "b")
    assert [n.id for n in domain.notifications.claim("a", 10, lease_seconds=60)] == [nid]


def test_recording_gives_the_claim_back(domain: Domain, merchant: Merchant) -> None:
    [nid] = paid(domain, merchant, 1, "RECORD")
    [n] = domain.notifications.claim("a", 10, lease_seconds=60)
    attempt = DeliveryAttempt(n.id, domain.clock.now(), {}, 200, "", None, 1.0)
    domain.notifications.record_attempts([(attempt, True)], "a")
    assert domain.notifications.get(nid).status is NotificationStatus.DELIVERED
    assert domain.notifications.claim("b", 10, lease_seconds=60) == []


def test_the_clock_and_faults_are_shared_through_the_store(
    domain: Domain, second: Domain, store: Store, second_store: Store
) -> None:
    domain.advance_clock(120)
    assert second.clock.offset_seconds == pytest.approx(120)
    codes = {"pay.query": ["SYSTEM_ERROR"], "v2.orderquery": ["SYSTEMERROR"]}
    a, b = Faults(codes, store=store), Faults(codes, store=second_store)
    a.arm("pay.query", "SYSTEM_ERROR", 2)
    assert b.pending() == {"pay.query": ["SYSTEM_ERROR", "SYSTEM_ERROR"]}
    assert b.pop("pay.query") is not None and a.pop("pay.query") is not None
    assert b.pop("pay.query") is None and a.pending() == {}
    b.arm("v2.orderquery", "SYSTEMERROR", 1)
    a.clear()
    assert b.pending() == {}
    # Response tampering is shared too, and never taken as a fault (nor a fault as a tamper).
    tampers = {"pay.query": ["signature", "timestamp"]}
    a, b = Faults(codes, tampers, store=store), Faults(codes, tampers, store=second_store)
    a.arm_tamper("pay.query", "timestamp", 1)
    a.arm("pay.query", "SYSTEM_ERROR", 1)
    assert b.pending() == {"pay.query": ["SYSTEM_ERROR", "tamper:timestamp"]}
    assert b.take_tamper("pay.query") == "timestamp" and a.take_tamper("pay.query") is None
    assert a.pop("pay.query") is not None and b.pending() == {}


def test_pages_are_stable_while_rows_are_added(domain: Domain, merchant: Merchant) -> None:
    paid(domain, merchant, 5, "PAGE")
    first = domain.notifications.list(merchant.mchid, limit=2)
    paid(domain, merchant, 3, "LATER")  # newer rows do not shift the next page
    last = first[-1][0]
    rest = domain.notifications.list(merchant.mchid, limit=100, before=(last.created_at, last.id))
    seen = [n.id for n, _ in first] + [n.id for n, _ in rest]
    assert len(seen) == len(set(seen)) == 5
    orders = domain.orders.list(merchant.mchid, limit=3)
    older = domain.orders.list(merchant.mchid, limit=100, before=orders[-1].id)
    assert [o.out_trade_no for o in orders + older] == [f"LATER{i:05d}" for i in (2, 1, 0)] + [
        f"PAGE{i:05d}" for i in (4, 3, 2, 1, 0)
    ]


def test_a_process_that_never_loaded_the_merchant_pays_its_order(
    domain: Domain, second: Domain, merchant: Merchant
) -> None:
    """The payment notice reads the merchant inside the paying transaction: a second transaction
    there would wait forever on SQLite's one writer (the process had not cached that merchant)."""
    draft = replace(BASE, mchid=merchant.mchid, appid=merchant.appid, out_trade_no="OTHERPROC1")
    order = domain.orders.place(draft)
    done: list[str] = []

    def pay() -> None:
        done.append(second.orders.pay(result=PaymentResult.SUCCESS, prepay_id=order.prepay_id).state.value)

    worker = threading.Thread(target=pay, daemon=True)
    worker.start()
    worker.join(20)
    assert done == ["SUCCESS"]
    assert len(domain.notifications.list(merchant.mchid)) == 1


def test_an_attempt_is_recorded_only_by_the_process_still_holding_the_claim(
    domain: Domain, second: Domain, merchant: Merchant
) -> None:
    """ "a" outlived its lease and "b" took the row: "a"'s late answer (even an acknowledgement) is not
    recorded, so "b"'s attempt is counted once and decides the row's state."""
    [nid] = paid(domain, merchant, 1, "LATE")
    assert [n.id for n in domain.notifications.claim("a", 10, lease_seconds=0.2)] == [nid]
    time.sleep(0.3)
    assert [n.id for n in second.notifications.claim("b", 10, lease_seconds=60)] == [nid]
    late = DeliveryAttempt(nid, domain.clock.now(), {}, 200, "", None, 1.0)
    recorded = domain.notifications.record_attempts([(late, True)], "a")
    row, attempts = domain.notifications.detail(nid)
    assert row.status is NotificationStatus.PENDING and row.attempts == 0 and attempts == []
    assert recorded == []
    assert second.notifications.claim("c", 10, lease_seconds=60) == []  # "b" still holds it
    failed = DeliveryAttempt(nid, domain.clock.now(), {}, 500, "", None, 1.0)
    assert second.notifications.record_attempts([(failed, False)], "b") == [nid]
    row, attempts = domain.notifications.detail(nid)
    assert row.status is NotificationStatus.PENDING and row.attempts == 1
    assert [a.response_status for a in attempts] == [500]
    assert row.next_attempt_at is not None and row.next_attempt_at > domain.clock.now()
    # Its claim was given back: due again (clock moved past the retry), anyone may claim it.
    domain.advance_clock(3600)
    assert [n.id for n in domain.notifications.claim("c", 10, lease_seconds=60)] == [nid]


def test_recording_a_batch_sets_each_rows_state(domain: Domain, merchant: Merchant) -> None:
    """One unit of work for many attempts: acknowledged, failed (retry later) and the last failure
    (FAILED) each get their own state; the claim on every one is given back."""
    ids = paid(domain, merchant, 3, "BATCH")
    claimed = {n.id for n in domain.notifications.claim("a", 10, lease_seconds=60)}
    assert claimed == set(ids)
    ok, retry, last = sorted(ids)
    now = domain.clock.now()
    with domain.notifications.uow() as uow:
        uow.notifications.update(last, attempts=15)  # one failure from WeChat's last retry
    results = [
        (DeliveryAttempt(ok, now, {"h": "1"}, 200, "", None, 1.0), True),
        (DeliveryAttempt(retry, now, {}, 500, "no", None, 2.0), False),
        (DeliveryAttempt(last, now, {}, None, "", "ConnectError: refused", 3.0), False),
    ]
    assert sorted(domain.notifications.record_attempts(results, "a")) == sorted(ids)
    states = {n.id: (n.status, n.attempts) for n, _ in domain.notifications.list(merchant.mchid)}
    assert states[ok] == (NotificationStatus.DELIVERED, 1)
    assert states[retry] == (NotificationStatus.PENDING, 1)
    assert states[last] == (NotificationStatus.FAILED, 16)
    detail = {nid: domain.notifications.detail(nid) for nid in ids}
    assert detail[ok][0].delivered_at is not None and detail[ok][0].next_attempt_at is None
    assert detail[ok][1][0].request_headers == {"h": "1"}
    assert detail[retry][0].next_attempt_at is not None and detail[retry][1][0].response_body == "no"
    assert detail[last][0].next_attempt_at is None and detail[last][1][0].error == "ConnectError: refused"
    domain.advance_clock(7 * 24 * 3600)
    assert [n.id for n in domain.notifications.claim("b", 10, lease_seconds=60)] == [retry]


def test_giving_back_records_what_finished_and_frees_the_owners_other_claims(
    domain: Domain, second: Domain, merchant: Merchant
) -> None:
    """A dispatcher stopping: one unit of work records its finished attempt and gives back its other
    claims (due again at their scheduled time, attempts unchanged); another process's claim stays."""
    ids = paid(domain, merchant, 3, "GIVEBACK")
    scheduled = {n.id: n.next_attempt_at for n, _ in domain.notifications.list(merchant.mchid)}
    finished, kept = sorted(n.id for n in domain.notifications.claim("a", 2, lease_seconds=60))
    [theirs] = [n.id for n in second.notifications.claim("b", 10, lease_seconds=60)]
    assert {finished, kept, theirs} == set(ids)
    attempt = DeliveryAttempt(finished, domain.clock.now(), {}, 500, "", None, 1.0)
    assert domain.notifications.give_back("a", [(attempt, False)]) == [finished]
    # "a"'s other claim is free at once; "b"'s is still "b"'s; the recorded row waits for its retry.
    assert [n.id for n in second.notifications.claim("c", 10, lease_seconds=60)] == [kept]
    row = domain.notifications.get(kept)
    assert row.attempts == 0 and row.next_attempt_at == scheduled[kept]
    row = domain.notifications.get(finished)
    assert row.attempts == 1 and row.next_attempt_at is not None and row.next_attempt_at > domain.clock.now()
    assert domain.notifications.give_back("b") == []  # nothing finished: only the claim goes back
    assert [n.id for n in domain.notifications.claim("d", 10, lease_seconds=60)] == [theirs]

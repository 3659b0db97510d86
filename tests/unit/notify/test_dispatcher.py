"""The notification dispatcher (notify/dispatcher.py)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import re
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from tests.support.keys import KeyPool
from wxpay_emulator.app import build_domain, open_store
from wxpay_emulator.clock import Clock
from wxpay_emulator.config import Settings
from wxpay_emulator.domain.models import (
    KeyMode,
    Merchant,
    NotificationStatus,
    OrderDraft,
    PaymentResult,
)
from wxpay_emulator.domain.services import Domain
from wxpay_emulator.notify import signing
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

    assert asyncio.run(dispatcher.deliver_due()) == 1
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


def paid_to(domain: Domain, merchant: Merchant, url: str, count: int, prefix: str) -> None:
    for i in range(count):
        draft = OrderDraft(
            mchid=merchant.mchid, appid=merchant.appid, out_trade_no=f"{prefix}{i:04d}", trade_type="NATIVE",
            description="d", total=1, currency="CNY", notify_url=url, family="v3",
        )  # fmt: skip
        domain.orders.pay(result=PaymentResult.SUCCESS, prepay_id=domain.orders.place(draft).prepay_id)


ID = re.compile(rb'"id"\s*:\s*"([^"]+)"')


@contextlib.asynccontextmanager
async def receiver(
    answer_after: float, trickle: int = 0, on_request: Callable[[bytes], Awaitable[None]] | None = None
) -> AsyncIterator[tuple[str, Counter[str]]]:
    """A loopback merchant endpoint: answers 200 after ``answer_after`` seconds; with ``trickle``, a
    body of that many bytes, one every 0.25 s (each read well within httpx's per-read timeout); awaits
    ``on_request`` with each request's head first. Yields its URL and the count of arrivals per id."""
    arrivals: Counter[str] = Counter()
    handlers: set[asyncio.Task[None]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        try:
            for _ in range(100):  # keep-alive requests on one connection, bounded
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))  # type: ignore[union-attr]
                body = await reader.readexactly(length)
                found = ID.search(body)
                arrivals[found.group(1).decode() if found else "?"] += 1
                if on_request is not None:
                    await on_request(head)
                await asyncio.sleep(answer_after)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % trickle)
                for _ in range(trickle):
                    await writer.drain()
                    await asyncio.sleep(0.25)
                    writer.write(b"x")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            handlers.discard(task)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/notify", arrivals
    finally:
        server.close()
        for task in list(handlers):
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        await server.wait_closed()


def test_an_answer_trickled_a_byte_at_a_time_is_cut_at_the_timeout(
    domain: Domain, merchant: Merchant
) -> None:
    """httpx's timeout is per read: an answer whose bytes keep coming would hold the attempt (and its
    lease) for as long as the merchant likes. The whole attempt is bounded by the timeout."""
    dispatcher = Dispatcher(domain, timeout_seconds=1, poll_seconds=0.1)

    async def one_pass() -> float:
        async with receiver(0.0, trickle=16) as (url, arrivals):  # 16 x 0.25 s: 4 s of answer
            paid_to(domain, merchant, url, 1, "TRICKLE")
            started = time.monotonic()
            assert await dispatcher.deliver_due() == 1
            assert sum(arrivals.values()) == 1
            return time.monotonic() - started

    elapsed = asyncio.run(one_pass())
    [(n, [attempt])] = domain.notifications.list(merchant.mchid)
    assert attempt.error is not None and "TimeoutError" in attempt.error, attempt
    assert attempt.duration_ms < 2500, attempt.duration_ms
    assert elapsed < 3.5
    assert n.status is NotificationStatus.PENDING and n.attempts == 1


def test_a_row_claimed_again_while_in_hand_is_not_delivered_twice(domain: Domain, merchant: Merchant) -> None:
    """If an attempt outlives the lease (here a lease made shorter than an answer), the next pass of the
    same process claims the row again: it must not start a second delivery of a row it still has in
    hand. The attempt under way records it, once."""
    dispatcher = Dispatcher(domain, timeout_seconds=3, poll_seconds=0.05)
    dispatcher.lease_seconds = 0.2  # the answer (0.8 s) outlives it

    async def run() -> Counter[str]:
        async with receiver(0.8) as (url, arrivals):
            paid_to(domain, merchant, url, 3, "REHOLD")
            await dispatcher.start()
            try:
                deadline = time.monotonic() + 15
                while time.monotonic() < deadline:
                    await asyncio.sleep(0.1)
                    rows = await asyncio.to_thread(domain.notifications.list, merchant.mchid)
                    if all(n.status is NotificationStatus.DELIVERED for n, _ in rows):
                        break
                await asyncio.sleep(0.5)  # passes keep running: nothing goes out again
            finally:
                await dispatcher.stop()
            return arrivals

    arrivals = asyncio.run(run())
    rows = domain.notifications.list(merchant.mchid)
    assert len(rows) == 3
    assert all(n.status is NotificationStatus.DELIVERED and n.attempts == 1 for n, _ in rows), rows
    assert sorted(arrivals.values()) == [1, 1, 1], arrivals
    assert set(arrivals) == {n.id for n, _ in rows}


def test_a_retry_due_while_its_last_attempt_is_being_recorded_still_goes_out(
    tmp_path: Path, key_pool: KeyPool
) -> None:
    """The record of an attempt commits on its thread before the loop hears of it. A pass in between
    may claim the row's next retry (already due at a tiny time scale): that is not the attempt in hand
    (its attempts count moved on), so it must start, not sit leased for a whole lease."""
    settings = Settings(data_dir=tmp_path / "data", notify_time_scale=0.0001)
    store = open_store(settings)
    try:
        domain = build_domain(store, settings, key_source=key_pool)
        merchant = domain.merchants.create(None, None, KeyMode.PUBKEY, ("wx1111111111111111",))
        paid_to(domain, merchant, "http://127.0.0.1:9/n", 1, "LATE")
        record = domain.notifications.record_attempts
        calls = 0

        def late_record(*args: Any) -> Any:
            nonlocal calls
            recorded = record(*args)
            calls += 1
            if calls == 1:
                time.sleep(0.5)  # committed: the loop hears of it late
            return recorded

        domain.notifications.record_attempts = late_record  # type: ignore[method-assign]
        dispatcher = Dispatcher(domain, timeout_seconds=1, poll_seconds=0.05)

        async def run() -> int:
            await dispatcher.start()
            try:
                deadline = time.monotonic() + 6
                while time.monotonic() < deadline:
                    await asyncio.sleep(0.1)
                    [(n, _)] = await asyncio.to_thread(domain.notifications.list, merchant.mchid)
                    if n.attempts >= 3:
                        return n.attempts
                return n.attempts
            finally:
                await dispatcher.stop()

        assert asyncio.run(run()) >= 3  # stuck at 1 for a lease (19 s here) before the fix
    finally:
        store.dispose()


@pytest.mark.both_databases
@pytest.mark.parametrize("hang", ["after_claiming", "before_claiming"])
def test_a_stop_that_gives_up_on_a_hung_claim_leaves_no_row_leased(
    domain: Domain, merchant: Merchant, hang: str
) -> None:
    """stop() gives up on a pass that outlasts its timeout. The rows of a claim still on its worker
    thread, committed before the stop gave up or after, must not stay leased (a whole lease, 28 s here,
    before any process delivers them): they are due again at once, their attempts unchanged."""
    paid_to(domain, merchant, "http://127.0.0.1:9/n", 3, "HUNG")
    scheduled = {n.id: n.next_attempt_at for n, _ in domain.notifications.list(merchant.mchid)}
    dispatcher = Dispatcher(domain, timeout_seconds=2, poll_seconds=0.1)
    claim = domain.notifications.claim
    claiming, returned = threading.Event(), threading.Event()

    def hung_claim(*args: Any) -> Any:
        claiming.set()
        try:
            if hang == "before_claiming":
                time.sleep(1.5)  # the claim commits after stop() has returned
            rows = claim(*args)
            if hang == "after_claiming":
                time.sleep(1.5)  # committed, but the pass never hears of it before stop() gives up
            return rows
        finally:
            returned.set()

    domain.notifications.claim = hung_claim  # type: ignore[method-assign]

    async def start_then_stop() -> float:
        await dispatcher.start()
        for _ in range(500):
            if claiming.is_set():
                break
            await asyncio.sleep(0.01)
        started = time.monotonic()
        await dispatcher.stop(timeout=0.2)
        return time.monotonic() - started

    try:
        stopped_in = asyncio.run(start_then_stop())
        assert returned.wait(10)
    finally:
        del domain.notifications.claim
    taken: set[str] = set()
    deadline = time.monotonic() + 5  # the late claim gives its rows back as soon as it commits
    while len(taken) < 3 and time.monotonic() < deadline:
        taken |= {n.id for n in domain.notifications.claim("other", 10, 60.0, [])}
        time.sleep(0.05)
    assert taken == set(scheduled)
    for n, attempts in domain.notifications.list(merchant.mchid):
        assert n.attempts == 0 and attempts == [] and n.next_attempt_at == scheduled[n.id]
    assert stopped_in < 1.2, stopped_in  # it did not wait for the hung thread


def test_the_notify_timeout_is_capped_so_a_signature_is_never_stale_when_sent() -> None:
    """A signature checked fresh when its attempt starts is sent after the connect, which the timeout
    bounds: capped at 60 s, a signature is at most 2 minutes old when sent (notify/signing.py)."""
    assert Settings(notify_timeout_seconds=60).notify_timeout_seconds == 60
    for bad in (61, 0):
        with pytest.raises(ValidationError, match="notify_timeout_seconds"):
            Settings(notify_timeout_seconds=bad)


def test_a_signature_that_waited_too_long_is_made_again_at_send_time(
    domain: Domain, merchant: Merchant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A claim signs its batch; a row waiting for its endpoint's one slot is sent later. A signature
    older than signing.MAX_AGE (0.5 s here, 60 s in use) when its attempt starts is made again, so
    ``Wechatpay-Timestamp`` is never that old when sent (WeChat's SDKs refuse one 5 minutes old)."""
    monkeypatch.setattr(signing, "MAX_AGE", 0.5)
    # Milliseconds in the timestamp header (the receiver checks no signature): ages below a second.
    monkeypatch.setattr(Clock, "real_timestamp", staticmethod(lambda: int(time.time() * 1000)))
    ages: list[float] = []

    async def age(head: bytes) -> None:
        stamp = re.search(rb"(?i)wechatpay-timestamp:\s*(\d+)", head)
        assert stamp is not None
        ages.append(time.time() - int(stamp.group(1)) / 1000)

    dispatcher = Dispatcher(domain, timeout_seconds=5, poll_seconds=0.1, per_endpoint=1)

    async def one_pass() -> None:
        async with receiver(1.0, on_request=age) as (url, arrivals):
            paid_to(domain, merchant, url, 3, "RESIGN")
            assert await dispatcher.deliver_due() == 3
            assert sorted(arrivals.values()) == [1, 1, 1]

    asyncio.run(one_pass())
    assert len(ages) == 3
    assert max(ages) < 0.9, ages  # signed at the claim, the last waited 2 s for its slot


def test_an_attempts_time_is_on_the_business_clock_of_the_attempt(domain: Domain, merchant: Merchant) -> None:
    """The business clock advanced after the claim, while the attempt was in flight: the attempt's
    time is on the clock as it is when the attempt ends, not as it was at the claim."""
    dispatcher = Dispatcher(domain, timeout_seconds=5, poll_seconds=0.1)

    async def advance(_head: bytes) -> None:
        await asyncio.to_thread(domain.advance_clock, 3600)

    async def one_pass() -> None:
        async with receiver(0.0, on_request=advance) as (url, _arrivals):
            paid_to(domain, merchant, url, 1, "OFFSET")
            assert await dispatcher.deliver_due() == 1

    asyncio.run(one_pass())
    [(n, [attempt])] = domain.notifications.list(merchant.mchid)
    assert n.status is NotificationStatus.DELIVERED
    assert attempt.attempted_at > Clock.real_now() + dt.timedelta(seconds=3500), attempt.attempted_at
    assert attempt.attempted_at <= domain.clock.now()

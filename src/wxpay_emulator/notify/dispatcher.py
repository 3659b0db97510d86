"""Delivers due outbox rows: the only module that makes outbound network calls.

One dispatcher per emulator process; every process on one store shares the outbox. A pass claims due
rows with a lease (storage/outbox_repo.py), so each attempt is made by exactly one process, and a
process that dies mid-delivery loses its claim when the lease runs out (the row then goes out again,
with the same id). Each delivery is its own task: at most ``max_in_flight`` at once, and at most
``per_endpoint`` to one endpoint (scheme://host:port of the URL), so merchants whose endpoints hang
hold only their own slots and never delay another merchant's notifications. A pass that filled its
batch starts the next one at once; otherwise the loop sleeps until its doorbell rings (a notification
is written in this process, the clock moves, a slot frees), the next row falls due, or
``dispatcher_poll_seconds`` (other processes' writes) passes.

What acknowledges depends on the family (protocols.py: 200/204 for APIv3, the SUCCESS XML for APIv2,
``errcode: 0`` for cloud callbacks); anything else, a timeout (5 s) or a refused connection is a
failure, retried on the schedule in schedule.py. An attempt's whole wall time (connect, send, every
read of the answer) is bounded by the timeout, so it always ends inside its lease; a row this process
still has in hand is never started a second time, even if a claim hands it back again. Finished
attempts are recorded in batches, one transaction for all that finished together, and only on rows
this process still holds (storage/outbox_repo.py: a row another process took after this one's lease
ran out keeps that process's attempt).

The HTTP client is httpx's own transport (``httpx.AsyncHTTPTransport``, one connection pool), called
directly with a prepared ``httpx.Request``: the same connection pool, HTTP/1.1 parser and timeouts as an
``AsyncClient``, without its per-request work that delivery does not use (cookies, auth, redirects,
event hooks, URL merging).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
import os
import socket
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
from starlette.concurrency import run_in_threadpool

from wxpay_emulator.clock import Clock
from wxpay_emulator.domain.models import DeliveryAttempt, Merchant, Notification
from wxpay_emulator.domain.services import Domain
from wxpay_emulator.notify.attempt_log import log_attempts
from wxpay_emulator.notify.doorbell import Doorbell
from wxpay_emulator.notify.protocols import protocol_for
from wxpay_emulator.notify.signing import SignedRequests

T = TypeVar("T")
Results = list[tuple[DeliveryAttempt, bool]]  # finished attempts, each with whether it was acknowledged

log = logging.getLogger("wxpay_emulator.notify")

BATCH = 128  # rows claimed by one pass
MAX_IN_FLIGHT = 512  # deliveries in flight in one process
PER_ENDPOINT = 8  # deliveries in flight to one endpoint (scheme://host:port)
HELD_PER_ENDPOINT = 64  # rows of one endpoint in hand (in flight or waiting for its slots)
RESPONSE_KEEP = 2000  # characters of the merchant's answer kept for inspection
GIVE_BACK_SECONDS = 5.0  # a stop that gave up on its pass: the most it waits to give the claims back


def endpoint_of(url: str) -> str:
    """The key of the per-endpoint cap, and the URL prefix a claim can skip: ``scheme://netloc/``
    (a cloud address, resolved only at delivery, is its own endpoint)."""
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}/"
    return url


class Dispatcher:
    def __init__(
        self,
        domain: Domain,
        timeout_seconds: float,
        poll_seconds: float,
        doorbell: Doorbell | None = None,
        *,
        max_in_flight: int = MAX_IN_FLIGHT,
        per_endpoint: int = PER_ENDPOINT,
        batch: int = BATCH,
    ) -> None:
        self.domain = domain
        self.timeout = timeout_seconds
        self.poll = poll_seconds
        self.max_in_flight = max_in_flight
        self.per_endpoint = per_endpoint
        self.held_per_endpoint = max(HELD_PER_ENDPOINT, per_endpoint)
        self.batch = batch
        # Unique per process start, readable in the table: host, pid, and a random tail.
        self.owner = f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        # A row waits at most held/per_endpoint attempts of its endpoint, then makes its own: the
        # lease covers that, so no other process takes a row this one still means to deliver.
        waits = self.held_per_endpoint // self.per_endpoint + 1
        self.lease_seconds = timeout_seconds * waits + 10.0
        self.doorbell = doorbell or Doorbell()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        # Store calls running on worker threads: a cancelled caller does not stop its thread, so
        # stopping waits for these before the store is disposed (no connection outlives its pool).
        self._store_calls: set[asyncio.Future[Any]] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._waiting: dict[str, deque[Notification]] = {}  # per endpoint, claimed, not yet started
        # Ids waiting, in flight or being recorded here, with the row's attempts when claimed: a claim
        # that finds the same count again is this attempt's own row (its lease ran out), a higher one
        # is the next retry, whose previous attempt is already recorded.
        self._in_hand: dict[str, int] = {}
        self._finishing: dict[str, int] = {}  # delivered, not yet recorded: the attempts when claimed
        self._shutting_down = False
        self._in_flight: Counter[str] = Counter()
        self._held: Counter[str] = Counter()
        self._starved = False  # the last pass stopped at max_in_flight: wake when a slot frees
        self._finished: Results = []
        self._finished_event = asyncio.Event()
        self._merchants: dict[str, tuple[float, Merchant]] = {}
        self._signed = SignedRequests(domain)  # claimed rows' signed requests (notify/signing.py)
        self._abandoned = threading.Event()  # set when stop() gives up on its pass (_claim_and_sign)
        # httpx's per-phase timeouts, as an AsyncClient would put them on each request.
        self._extensions = {"timeout": httpx.Timeout(timeout_seconds).as_dict()}

    def wake(self) -> None:
        """Thread-safe: deliver what is due now (the clock moved, a row was written)."""
        self.doorbell.ring()

    def waker(self) -> Callable[[], None]:
        return self.wake

    async def start(self) -> None:
        self.doorbell.loop = asyncio.get_running_loop()
        self._shutting_down = self._stopping = False
        self._abandoned = threading.Event()  # this run's: a late thread of an earlier run keeps its own
        self._task = asyncio.create_task(self._run(), name="wxpay-emulator-dispatcher")

    async def stop(self, timeout: float = 10.0) -> None:
        """Stop between passes. A pass (a claim, a store call) that outlasts ``timeout`` is abandoned:
        the loop is cancelled without waiting for its threads, and this process's claims are given back
        in one bounded store call, safe beside a recording still running (whichever commits first, the
        other finds the row no longer claimed by this process), so no row waits out a lease."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        self.doorbell.event.set()
        if (await asyncio.wait({task}, timeout=timeout))[0]:
            with contextlib.suppress(asyncio.CancelledError):
                await task
            return
        self._abandoned.set()  # before the give-back: a claim committing after it sees this
        task.cancel()
        await asyncio.wait({task}, timeout=GIVE_BACK_SECONDS)  # its shutdown waits for no thread now
        finished, self._finished = self._finished, []
        try:
            async with asyncio.timeout(GIVE_BACK_SECONDS):
                await self._record(finished, give_back=True)
        except Exception:  # TimeoutError included: the claims run out with their lease
            log.exception("giving back this process's notification claims failed")

    async def _store(self, call: Callable[..., T], *args: Any) -> T:
        """``call(*args)`` on a worker thread, tracked until the thread is done (see _store_calls)."""
        future = asyncio.ensure_future(run_in_threadpool(call, *args))
        self._store_calls.add(future)
        future.add_done_callback(self._store_calls.discard)
        return await asyncio.shield(future)

    def _client(self) -> httpx.AsyncHTTPTransport:
        """The outgoing HTTP client: httpx's transport (no proxy from the environment, no retry)."""
        limits = httpx.Limits(
            max_connections=self.max_in_flight, max_keepalive_connections=self.max_in_flight
        )
        return httpx.AsyncHTTPTransport(limits=limits, retries=0)

    async def _run(self) -> None:
        async with self._client() as client:
            recorder = asyncio.create_task(self._record_loop(), name="wxpay-emulator-recorder")
            try:
                while not self._stopping:
                    self.doorbell.event.clear()  # before the pass: a write during it wakes the next one
                    try:
                        delay = await self._pass(client)
                    except Exception:  # the loop must survive a bad row or a database hiccup
                        log.exception("notification dispatch pass failed")
                        delay = self.poll
                    if delay > 0:
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self.doorbell.event.wait(), timeout=delay)
            finally:
                await self._shutdown(recorder)

    async def _shutdown(self, recorder: asyncio.Task[None]) -> None:
        """Stop: cancel deliveries in flight, record what finished, give back every other claim."""
        self._shutting_down = True  # a cancelled delivery's finally must not start a waiting one
        in_flight = list(self._tasks)
        for task in in_flight:
            task.cancel()
        await asyncio.gather(*in_flight, return_exceptions=True)
        recorder.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await recorder
        self._waiting.clear()
        self._in_hand.clear()
        self._finishing.clear()
        self._signed.clear()
        if self._abandoned.is_set():
            return  # stop() gave up waiting: it gives the claims back, without waiting for threads
        # A cancelled delivery or recorder may have left its store call running: let it finish.
        await asyncio.gather(*list(self._store_calls), return_exceptions=True)
        finished, self._finished = self._finished, []
        # Record what finished; give back every other claim (waiting, cancelled, recording failed).
        with contextlib.suppress(Exception):
            await self._record(finished, give_back=True)

    async def deliver_due(self) -> int:
        """One pass, waited out: claim what is due, deliver it, record every attempt. Returns the
        number of rows claimed (for tests and tools; the running loop does not wait like this)."""
        self.doorbell.loop = asyncio.get_running_loop()
        async with self._client() as client:
            claimed = await self._claim_and_start(client)
            while self._tasks or any(self._waiting.values()):
                await asyncio.gather(*list(self._tasks), return_exceptions=True)
        finished, self._finished = self._finished, []
        await self._record(finished)
        return claimed

    async def _record(self, finished: Results, give_back: bool = False) -> None:
        """Record finished attempts (raises if the store fails: the rows stay claimed and go out again
        when the lease runs out); an attempt on a row this process no longer holds is dropped. With
        ``give_back`` (stopping), every other claim of this process's is given back in the same call."""
        if not finished and not give_back:
            return
        try:
            ids, finished = await self._store(self._record_now, finished, give_back)
            recorded = set(ids)
        finally:
            # In hand until recorded: a pass between the answer and its record would find the row
            # still PENDING (its lease possibly run out) and deliver it again.
            for attempt, _ok in finished:
                claimed_at = self._finishing.pop(attempt.notification_id, None)
                if claimed_at is not None and self._in_hand.get(attempt.notification_id) == claimed_at:
                    del self._in_hand[attempt.notification_id]
        kept = [(a, ok) for a, ok in finished if a.notification_id in recorded]
        if len(kept) < len(finished):
            lost = sorted({a.notification_id for a, _ in finished} - recorded)
            log.warning(
                "%d delivery attempts not recorded: their rows are no longer claimed by this process "
                "(the lease ran out and another process took them, or they were reset): %s",
                len(lost),
                ", ".join(lost[:10]),
            )
        await log_attempts(self.domain, kept, self._store)

    def _record_now(self, finished: Results, give_back: bool) -> tuple[list[str], Results]:
        """On a worker thread, as soon as the attempts finished: put their real times on the business
        clock with its offset read now (the shared clock's, cached 50 ms: an advance made while they
        were in flight counts; no store read on the event loop), then record them."""
        offset = dt.timedelta(seconds=self.domain.clock.offset_seconds)
        finished = [(dataclasses.replace(a, attempted_at=a.attempted_at + offset), ok) for a, ok in finished]
        notifications = self.domain.notifications
        if give_back:
            return notifications.give_back(self.owner, finished), finished
        return notifications.record_attempts(finished, self.owner), finished

    async def _pass(self, client: httpx.AsyncHTTPTransport) -> float:
        """Claim and start what is due; the seconds to sleep before the next pass (0: at once)."""
        free = self.max_in_flight - len(self._tasks)
        if free <= 0:
            self._starved = True
            return self.poll
        self._starved = False
        limit = min(self.batch, free)
        claimed = await self._claim_and_start(client, limit)
        if claimed >= limit:
            return 0.0
        due_in = await self._store(self.domain.notifications.next_due_in, self._full())
        if due_in is None:
            return self.poll
        return min(self.poll, max(due_in, 0.001))

    async def _claim_and_start(self, client: httpx.AsyncHTTPTransport, limit: int | None = None) -> int:
        # Refunds whose delay has run out succeed without a request (their notices join this pass).
        try:
            await self._store(self.domain.refunds.settle_if_due)
        except Exception:  # a refund that cannot settle must not hold up deliveries
            log.exception("settling due refunds failed")
        claimed = await self._store(self._claim_and_sign, limit or self.batch, self._full(), self._abandoned)
        extra: list[str] = []
        for n in claimed:
            if self._in_hand.get(n.id) == n.attempts:
                # Claimed again while still in hand (its lease ran out): the attempt under way
                # records it. Starting it again would deliver it twice.
                self._signed.drop(n.id)
                continue
            endpoint = endpoint_of(n.url)
            if self._held[endpoint] >= self.held_per_endpoint:
                extra.append(n.id)  # more of one endpoint than this process will start in time
                self._signed.drop(n.id)
                continue
            self._held[endpoint] += 1
            self._in_hand[n.id] = n.attempts
            self._waiting.setdefault(endpoint, deque()).append(n)
            self._start_waiting(client, endpoint)
        if extra:
            await self._store(self.domain.notifications.release, extra, self.owner)
        return len(claimed)

    def _claim_and_sign(self, limit: int, skip: list[str], abandoned: threading.Event) -> list[Notification]:
        """On a worker thread: claim due rows, sign their requests (notify/signing.py). A claim that
        commits after stop() gave up on it gives its rows back here (one before: stop() gives it back)."""
        claimed = self.domain.notifications.claim(self.owner, limit, self.lease_seconds, skip)
        if abandoned.is_set():
            self.domain.notifications.release([n.id for n in claimed], self.owner)
            return []
        self._signed.sign(claimed)
        return claimed

    def _full(self) -> list[str]:
        """Endpoints this process has enough of in hand: a claim leaves their rows."""
        return [ep for ep, held in self._held.items() if held >= self.held_per_endpoint]

    def _start_waiting(self, client: httpx.AsyncHTTPTransport, endpoint: str) -> None:
        if self._shutting_down:
            return  # the rows still waiting are given back by _shutdown
        queue = self._waiting.get(endpoint)
        while queue and self._in_flight[endpoint] < self.per_endpoint:
            n = queue.popleft()
            self._in_flight[endpoint] += 1
            task = asyncio.create_task(self._deliver_one(client, n, endpoint), name=n.id)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if queue is not None and not queue:
            del self._waiting[endpoint]

    async def _deliver_one(self, client: httpx.AsyncHTTPTransport, n: Notification, endpoint: str) -> None:
        try:
            result = await self._deliver(client, n)
            self._finishing[n.id] = n.attempts
            self._finished.append(result)  # stays in hand until _record has written it
            self._finished_event.set()
        except Exception:  # e.g. its merchant is gone: the claim runs out and it is tried again
            self._in_hand.pop(n.id, None)
            log.exception("delivering notification %s failed", n.id)
        except BaseException:  # cancelled: _shutdown gives the row back
            self._in_hand.pop(n.id, None)
            raise
        finally:
            self._in_flight[endpoint] -= 1
            self._held[endpoint] -= 1
            if self._in_flight[endpoint] <= 0:
                del self._in_flight[endpoint]
            if self._held[endpoint] <= 0:
                del self._held[endpoint]
            self._start_waiting(client, endpoint)
            if self._starved or self._held.get(endpoint, 0) == self.held_per_endpoint // 2:
                self.doorbell.event.set()

    async def _record_loop(self) -> None:
        """Record finished attempts in batches: whatever finished while the last batch was written."""
        while True:
            await self._finished_event.wait()
            self._finished_event.clear()
            finished, self._finished = self._finished, []
            if not finished:
                continue
            try:
                await self._record(finished)
            except Exception:  # kept claimed: the lease runs out and the rows go out again
                log.exception("recording %d delivery attempts failed", len(finished))

    async def _merchant(self, mchid: str) -> Merchant:
        """Merchants' keys, read at most once a second (a pass of thousands reads them once)."""
        cached = self._merchants.get(mchid)
        now = time.monotonic()
        if cached is not None and now - cached[0] < 1.0:
            return cached[1]
        merchant = await self._store(self.domain.merchants.get, mchid)
        self._merchants[mchid] = (now, merchant)
        return merchant

    async def _deliver(
        self, client: httpx.AsyncHTTPTransport, n: Notification
    ) -> tuple[DeliveryAttempt, bool]:
        protocol = protocol_for(n.family)
        signed = self._signed.take(n.id)
        if signed is None:  # not signed at the claim (its merchant unreadable), or too long ago
            signed = await run_in_threadpool(self._signed.request, await self._merchant(n.mchid), n)
        body, headers = signed
        status: int | None = None
        text = ""
        error: str | None = None
        started = time.perf_counter()
        try:
            # httpx's timeout is per phase (connect, each write, each read): an answer trickled a
            # byte at a time would never end. The whole attempt is bounded, so it ends inside its lease.
            async with asyncio.timeout(self.timeout):
                url = n.url
                if url.startswith("cloud+"):
                    # Cloud orders name a service or function, not a URL: resolved at every attempt.
                    url = await self._store(self.domain.cloud.resolve, url)
                status, text = await self._post(client, url, body, headers)
        except TimeoutError:
            error = f"TimeoutError: no complete answer within {self.timeout:g} s"
        except Exception as exc:  # refused, timed out, unregistered, or a URL httpx cannot build
            error = f"{type(exc).__name__}: {exc}"
        attempt = DeliveryAttempt(
            notification_id=n.id,
            attempted_at=Clock.real_now(),  # real time: _record_now puts it on the business clock
            request_headers=headers,
            response_status=status,
            response_body=text,
            error=error,
            duration_ms=(time.perf_counter() - started) * 1000,
        )
        try:
            acknowledged = error is None and protocol.acknowledged(status, text)
        except Exception as exc:  # whatever the answer, this attempt is recorded (and retried later)
            acknowledged, error = False, f"unreadable answer: {type(exc).__name__}: {exc}"
            attempt = dataclasses.replace(attempt, error=error)
        return attempt, acknowledged

    async def _post(
        self, client: httpx.AsyncHTTPTransport, url: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, str]:
        """POST through httpx's transport; (status, the answer's text, at most RESPONSE_KEEP)."""
        request = httpx.Request("POST", url, content=body, headers=headers, extensions=self._extensions)
        response = await client.handle_async_request(request)
        try:
            await response.aread()
        finally:
            await response.aclose()
        return response.status_code, response.text[:RESPONSE_KEEP]

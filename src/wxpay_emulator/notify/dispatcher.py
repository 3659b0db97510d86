"""Delivers due outbox rows: the only module that makes outbound network calls.

One asyncio task per emulator process. It wakes when a notification is written (or every
``dispatcher_poll_seconds``), claims due rows, POSTs each to its URL with fresh signature headers, and
records the attempt. What acknowledges depends on the family (protocols.py: 200/204 for APIv3, the
SUCCESS XML for APIv2, ``errcode: 0`` for cloud callbacks); anything else, a timeout (5 s) or a refused
connection is a failure, retried on the schedule in schedule.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable

import httpx
from starlette.concurrency import run_in_threadpool

from wxpay_emulator.clock import Clock
from wxpay_emulator.domain.models import DeliveryAttempt, Notification
from wxpay_emulator.domain.services import Domain
from wxpay_emulator.notify.protocols import protocol_for

log = logging.getLogger("wxpay_emulator.notify")

BATCH = 32
RESPONSE_KEEP = 2000  # characters of the merchant's answer kept for inspection


class Doorbell:
    """What the domain rings when it writes a notification row, made before the domain so that the
    dispatcher (made after it, from it) needs no patching: create_app passes ``ring`` to the domain
    and the doorbell to the dispatcher."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.loop: asyncio.AbstractEventLoop | None = None

    def ring(self) -> None:
        """Thread-safe: called from the threadpool when a notification row is written."""
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self.event.set)


class Dispatcher:
    def __init__(
        self, domain: Domain, timeout_seconds: float, poll_seconds: float, doorbell: Doorbell | None = None
    ) -> None:
        self.domain = domain
        self.timeout = timeout_seconds
        self.poll = poll_seconds
        self.doorbell = doorbell or Doorbell()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Thread-safe: deliver what is due now (the clock moved, a row was written)."""
        self.doorbell.ring()

    def waker(self) -> Callable[[], None]:
        return self.wake

    async def start(self) -> None:
        self.doorbell.loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._run(), name="wxpay-emulator-dispatcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        async with httpx.AsyncClient(timeout=self.timeout, trust_env=False) as client:
            while True:
                try:
                    await self.deliver_due(client)
                except Exception:  # the loop must survive a bad row or a database hiccup
                    log.exception("notification dispatch pass failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.doorbell.event.wait(), timeout=self.poll)
                self.doorbell.event.clear()

    async def deliver_due(self, client: httpx.AsyncClient) -> int:
        # Refunds whose delay has run out succeed without a request (their notices join this batch).
        try:
            await run_in_threadpool(self.domain.refunds.settle_if_due)
        except Exception:  # a refund that cannot settle must not hold up deliveries
            log.exception("settling due refunds failed")
        due = await run_in_threadpool(self.domain.notifications.due, BATCH)
        if due:
            await asyncio.gather(*(self._deliver(client, n) for n in due))
        return len(due)

    async def _deliver(self, client: httpx.AsyncClient, n: Notification) -> None:
        merchant = await run_in_threadpool(self.domain.merchants.get, n.mchid)
        protocol = protocol_for(n.family)
        body = n.body.encode()
        headers = protocol.headers(merchant, body, str(Clock.real_timestamp()), self.domain.ids.nonce())
        status: int | None = None
        text = ""
        error: str | None = None
        started = time.perf_counter()
        try:
            # Cloud orders name a service or function, not a URL: resolved at every attempt.
            url = await run_in_threadpool(self.domain.cloud.resolve, n.url)
            response = await client.post(url, content=body, headers=headers)
            status, text = response.status_code, response.text[:RESPONSE_KEEP]
        except Exception as exc:  # refused, timed out, unregistered, or a URL httpx cannot build
            error = f"{type(exc).__name__}: {exc}"
        attempt = DeliveryAttempt(
            notification_id=n.id,
            attempted_at=self.domain.clock.now(),
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
        await run_in_threadpool(self.domain.notifications.record_attempt, attempt, acknowledged)

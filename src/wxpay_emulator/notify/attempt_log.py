"""``serve``'s line per notification delivery attempt (logger ``wxpay_emulator.deliveries``):
notification id, URL, status or error, milliseconds, and the next retry (or delivered / FAILED)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from starlette.concurrency import run_in_threadpool

from wxpay_emulator.domain.errors import DomainError
from wxpay_emulator.domain.models import DeliveryAttempt, Notification
from wxpay_emulator.domain.services import Domain
from wxpay_emulator.journal.entries import time_text
from wxpay_emulator.journal.lines import delivery_parts, plain

delivery_log = logging.getLogger("wxpay_emulator.deliveries")


# How a store call is run off the event loop (the dispatcher passes its tracked runner).
Runner = Callable[..., Awaitable[Any]]


async def log_attempts(
    domain: Domain, results: Sequence[tuple[DeliveryAttempt, bool]], run: Runner = run_in_threadpool
) -> None:
    """Log recorded attempts, one line each; reads each notification back (only when lines are wanted)."""
    if not results or not delivery_log.isEnabledFor(logging.INFO):
        return
    for attempt, acknowledged in results:
        try:
            await log_attempt(domain, attempt, acknowledged, run)
        except Exception:  # a log line must never stop deliveries
            delivery_log.debug("could not log the attempt on %s", attempt.notification_id, exc_info=True)


async def log_attempt(
    domain: Domain, attempt: DeliveryAttempt, acknowledged: bool, run: Runner = run_in_threadpool
) -> None:
    """Log one recorded attempt with its notification's state now (nothing when it was reset)."""
    if not delivery_log.isEnabledFor(logging.INFO):
        return
    try:
        now: Notification = await run(domain.notifications.get, attempt.notification_id)
    except DomainError:  # reset while in flight
        return
    delivery_log.info(
        "%s",
        plain(
            delivery_parts(
                {
                    "notification_id": now.id,
                    "url": now.url,
                    "attempted_at": time_text(attempt.attempted_at),
                    "response_status": attempt.response_status,
                    "error": attempt.error,
                    "duration_ms": attempt.duration_ms,
                    "acknowledged": acknowledged,
                    "attempts": now.attempts,
                    "notification_status": now.status.value,
                    "next_attempt_at": time_text(now.next_attempt_at) if now.next_attempt_at else None,
                }
            )
        ),
    )

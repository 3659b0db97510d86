"""``serve``'s line per notification delivery attempt (logger ``wxpay_emulator.deliveries``):
notification id, URL, status or error, milliseconds, and the next retry (or delivered / FAILED)."""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool

from wxpay_emulator.domain.errors import DomainError
from wxpay_emulator.domain.models import DeliveryAttempt, Notification
from wxpay_emulator.domain.services import Domain
from wxpay_emulator.journal.entries import time_text
from wxpay_emulator.journal.lines import delivery_parts, plain

delivery_log = logging.getLogger("wxpay_emulator.deliveries")


async def log_attempt(domain: Domain, n: Notification, attempt: DeliveryAttempt, acknowledged: bool) -> None:
    """Log a recorded attempt; reads the notification back (only when the line is wanted)."""
    if not delivery_log.isEnabledFor(logging.INFO):
        return
    try:
        now = await run_in_threadpool(domain.notifications.get, n.id)
    except DomainError:  # reset while in flight
        now = n
    delivery_log.info(
        "%s",
        plain(
            delivery_parts(
                {
                    "notification_id": n.id,
                    "url": n.url,
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

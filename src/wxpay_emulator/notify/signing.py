"""The signed requests of the rows a dispatcher claimed (notify/dispatcher.py), and how old they may be.

A claim signs its whole batch on the claim's worker thread: RSA signing is the one expensive step of a
delivery, and recent cryptography releases the GIL for it, so it runs beside the event loop's HTTP work.
The signature covers the real-clock timestamp sent in ``Wechatpay-Timestamp`` (APIv3), which WeChat's
SDKs refuse when it is more than 5 minutes from their own clock. A claimed row may wait for its
endpoint's slots (up to ``HELD_PER_ENDPOINT / PER_ENDPOINT`` attempts of the notify timeout) before it is
sent, so a signature older than ``MAX_AGE`` when its attempt starts is made again, at send time.

Why re-sign rather than only cap the timeout: the wait grows with the slots an endpoint's earlier
attempts hold, not only with the timeout, and re-signing costs one signature for just the rows that
waited that long (none at WeChat's 5 s timeout unless an endpoint hangs). After the check, the request
still goes through connecting, which the attempt's timeout bounds; config.py caps that timeout
(``notify_timeout_seconds`` at most 60 s), so a notification's signature is at most MAX_AGE plus 60 s
plus the second its whole-second timestamp drops (about 2 minutes) old when it is sent: well inside
WeChat's 5 minutes, with room for the merchant's clock skew.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from wxpay_emulator.clock import Clock
from wxpay_emulator.domain.models import Merchant, Notification
from wxpay_emulator.domain.services import Domain
from wxpay_emulator.notify.protocols import protocol_for

MAX_AGE = 60.0  # seconds: a signature older than this when its attempt starts is made again

Signed = tuple[bytes, dict[str, str]]  # the body and its signed headers


class SignedRequests:
    """Claimed rows' signed requests, by notification id, each with the (monotonic) time it was made."""

    def __init__(self, domain: Domain) -> None:
        self.domain = domain
        self._signed: dict[str, tuple[float, Signed]] = {}
        self._lock = threading.Lock()  # filled on worker threads, taken on the event loop

    def request(self, merchant: Merchant, n: Notification) -> Signed:
        """The body and signed headers of one attempt, signed now."""
        body = n.body.encode()
        protocol = protocol_for(n.family)
        return body, protocol.headers(merchant, body, str(Clock.real_timestamp()), self.domain.ids.nonce())

    def sign(self, rows: Sequence[Notification]) -> None:
        """On a worker thread: sign each row's request (a row whose merchant cannot be read is left
        unsigned: its attempt signs it, and logs why not)."""
        for n in rows:
            try:
                signed = self.request(self.domain.merchants.get(n.mchid), n)
            except Exception:
                continue
            with self._lock:
                self._signed[n.id] = (time.monotonic(), signed)

    def take(self, notification_id: str) -> Signed | None:
        """The row's signed request, forgotten here; None if it has none or it is older than MAX_AGE:
        the attempt then signs it again."""
        with self._lock:
            entry = self._signed.pop(notification_id, None)
        if entry is None:
            return None
        made, signed = entry
        return signed if time.monotonic() - made <= MAX_AGE else None

    def drop(self, notification_id: str) -> None:
        with self._lock:
            self._signed.pop(notification_id, None)

    def clear(self) -> None:
        with self._lock:
            self._signed.clear()

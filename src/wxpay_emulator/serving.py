"""How ``serve`` runs uvicorn: timeouts for idle and slow connections, a readable log when file
descriptors run out, and (``--tls``) client-certificate trust read from the store at each handshake.

- **Idle connections.** A connection that has sent nothing, or only part of a request head (request
  line and headers), for ``HEAD_TIMEOUT_SECONDS`` is closed: uvicorn has no header timeout of its own
  (a client trickling header bytes, "slowloris", would hold a socket forever), so
  :class:`HardenedH11Protocol` adds one. Between requests uvicorn's keep-alive timeout
  (``KEEP_ALIVE_SECONDS``) applies. A stalled body is refused by api/limits.py.
- **Head size.** h11 refuses a request head larger than ``MAX_HEAD_BYTES`` (HTTP 400).
- **Running out of descriptors.** When ``accept()`` fails with EMFILE/ENFILE, asyncio logs the error
  with a traceback every time it retries; :class:`RateLimitedResourceErrors` lets one line through per
  ``RESOURCE_LOG_INTERVAL`` seconds, with the count of those it held back.
- The protocol is always uvicorn's h11 one on the asyncio loop, whatever optional packages
  (httptools, uvloop) are installed, so these limits always apply.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import time
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from wxpay_emulator.config import Settings

HEAD_TIMEOUT_SECONDS = 10.0
KEEP_ALIVE_SECONDS = 5
MAX_HEAD_BYTES = 16 * 1024
RESOURCE_LOG_INTERVAL = 10.0

log = logging.getLogger("wxpay_emulator")


class HardenedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request head: from the connection's opening,
    and again from the end of each response, the next request head must be complete within
    ``HEAD_TIMEOUT_SECONDS``, or the connection is closed. A request being served is never cut."""

    head_timeout: float = HEAD_TIMEOUT_SECONDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_deadline()
        super().connection_lost(exc)

    def _arm_head_deadline(self) -> None:
        self._disarm_head_deadline()
        self._head_deadline = self.loop.call_later(self.head_timeout, self._head_deadline_passed)

    def _disarm_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_deadline_passed(self) -> None:
        self._head_deadline = None
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a request is being served: its body has its own timeout (api/limits.py)
        if not self.transport.is_closing():
            self.transport.close()


class RateLimitedResourceErrors(logging.Filter):
    """Let through one "out of file descriptors" error per ``interval`` seconds, without its
    traceback, saying how many were held back since the last one; every other record passes."""

    def __init__(
        self, interval: float = RESOURCE_LOG_INTERVAL, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.interval = interval
        self.clock = clock
        self._last: float | None = None
        self._held_back = 0

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        resource = isinstance(exc, OSError) and exc.errno in (errno.EMFILE, errno.ENFILE)
        if not resource and "out of system resource" not in record.getMessage():
            return True
        now = self.clock()
        if self._last is not None and now - self._last < self.interval:
            self._held_back += 1
            return False
        first_line = record.getMessage().splitlines()[0] if record.getMessage() else "accept() failed"
        note = ""
        if self._held_back and self._last is not None:
            note = f" ({self._held_back} more like it in the last {now - self._last:.0f} s)"
        record.msg = f"{first_line}: {exc}{note}" if exc else f"{first_line}{note}"
        record.args = ()
        record.exc_info = None
        record.exc_text = None
        self._last, self._held_back = now, 0
        return True


def install_log_filters() -> RateLimitedResourceErrors:
    limiter = RateLimitedResourceErrors()
    for name in ("asyncio", "uvicorn.error"):
        logging.getLogger(name).addFilter(limiter)
    return limiter


def uvicorn_config_options(
    protocol: type[HardenedH11Protocol] = HardenedH11Protocol,
    head_timeout: float = HEAD_TIMEOUT_SECONDS,
    keep_alive: int = KEEP_ALIVE_SECONDS,
) -> dict[str, Any]:
    """The keyword arguments of ``uvicorn.Config`` that harden every server (TLS or not)."""
    timed = type(protocol.__name__, (protocol,), {"head_timeout": head_timeout})
    return {
        "http": timed,
        "loop": "asyncio",
        "timeout_keep_alive": keep_alive,
        "h11_max_incomplete_event_size": MAX_HEAD_BYTES,
    }


def run(
    app: Any,
    settings: Settings,
    tls_options: dict[str, Any] | None = None,
    trust: Any | None = None,
) -> None:
    """Serve ``app`` until interrupted. ``trust`` (tls.StoreTrust) is installed on the TLS context."""
    import uvicorn

    install_log_filters()
    tls_options = dict(tls_options or {})
    protocol = tls_options.pop("http", HardenedH11Protocol)
    options = {
        **uvicorn_config_options(protocol, settings.head_timeout_seconds, settings.keep_alive_seconds),
        **tls_options,
    }
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning", **options)
    config.load()
    if trust is not None and config.ssl is not None:
        trust.install(config.ssl)
    uvicorn.Server(config).run()

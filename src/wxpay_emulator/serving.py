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
- **Several workers** (``serve --workers N``, :func:`run_workers`): uvicorn's supervisor binds one
  socket and spawns N processes; each loads a :class:`WorkerConfig`, which builds the app in that
  process and applies every protection above (and the TLS trust) there.
"""

from __future__ import annotations

import asyncio
import errno
import inspect
import logging
import socket
import time
from collections.abc import Callable
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol

from wxpay_emulator.config import Settings

HEAD_TIMEOUT_SECONDS = 10.0
KEEP_ALIVE_SECONDS = 5
MAX_HEAD_BYTES = 16 * 1024
RESOURCE_LOG_INTERVAL = 10.0

log = logging.getLogger("wxpay_emulator")


def no_delay(transport: asyncio.BaseTransport) -> None:
    """TCP_NODELAY on a served connection. asyncio sets it only on sockets made with proto IPPROTO_TCP,
    and the listening socket ``serve`` binds itself (cli/serve.py ``socket.create_server``, so that a port
    in use is reported before the banner) has proto 0, as do the connections it accepts. Without it,
    Nagle's algorithm holds each answer's body (h11 writes the head, then the body) until the client
    acknowledges the head, which a client delays by up to 40 ms: every call took 44 ms on loopback."""
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class HardenedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request head: from the connection's opening,
    and again from the end of each response, the next request head must be complete within
    ``HEAD_TIMEOUT_SECONDS``, or the connection is closed. A request being served is never cut."""

    head_timeout: float = HEAD_TIMEOUT_SECONDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_deadline: asyncio.TimerHandle | None = None
        self._tls = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        no_delay(transport)
        # Known once, while the transport is open: on Python 3.11 an SSL transport closed twice (the
        # keep-alive timeout, then the shutdown) drops its protocol, and get_extra_info then raises.
        self._tls = transport.get_extra_info("sslcontext") is not None
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
        self._abort_if_tls()

    def timeout_keep_alive_handler(self) -> None:
        super().timeout_keep_alive_handler()
        self._abort_if_tls()

    def shutdown(self) -> None:
        """The server is stopping: an idle connection closes now, a request being served finishes."""
        if self.cycle is None or self.cycle.response_complete:
            # Aborted before uvicorn closes it: a second close of an SSL transport already closing
            # (its keep-alive ran out) would drop its protocol, and an abort after that does nothing.
            self._abort_if_tls()
        super().shutdown()

    def _abort_if_tls(self) -> None:
        """A TLS connection that is closed for idling is aborted too: asyncio's TLS close waits for the
        peer's close_notify (up to 30 s), which an idle keep-alive client never sends, so ``serve --tls``
        would wait its whole graceful-shutdown timeout for each idle client, and a silent client would
        keep its socket that long after its head deadline."""
        if self._tls:
            self.transport.abort()


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


def timed_protocol(protocol: type[HardenedH11Protocol], head_timeout: float) -> type[HardenedH11Protocol]:
    return type(protocol.__name__, (protocol,), {"head_timeout": head_timeout})


def uvicorn_config_options(
    protocol: type[HardenedH11Protocol] = HardenedH11Protocol,
    head_timeout: float = HEAD_TIMEOUT_SECONDS,
    keep_alive: int = KEEP_ALIVE_SECONDS,
) -> dict[str, Any]:
    """The keyword arguments of ``uvicorn.Config`` that harden every server (TLS or not)."""
    return {
        "http": timed_protocol(protocol, head_timeout),
        "loop": "asyncio",
        "timeout_keep_alive": keep_alive,
        "h11_max_incomplete_event_size": MAX_HEAD_BYTES,
    }


def run(
    app: Any,
    settings: Settings,
    tls_options: dict[str, Any] | None = None,
    trust: Any | None = None,
    sockets: list[socket.socket] | None = None,
    on_server: Callable[[Any], None] | None = None,
) -> None:
    """Serve ``app`` until interrupted. ``trust`` (tls.StoreTrust) is installed on the TLS context.
    ``sockets``: already bound listening sockets (``serve`` binds first, to report a port in use before
    its banner); ``on_server`` is given the ``uvicorn.Server`` before it starts."""
    import uvicorn

    install_log_filters()
    tls_options = dict(tls_options or {})
    protocol = tls_options.pop("http", HardenedH11Protocol)
    options = {
        **uvicorn_config_options(protocol, settings.head_timeout_seconds, settings.keep_alive_seconds),
        **tls_options,
    }
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,  # the journal's line per request replaces it (serve_logs.py)
        timeout_graceful_shutdown=5,  # open event streams (api/emulator/journal.py) must not hold exit
        **options,
    )
    config.load()
    if trust is not None and config.ssl is not None:
        trust.install(config.ssl)
    server = uvicorn.Server(config)
    if on_server is not None:
        on_server(server)
    server.run(sockets=sockets)


class WorkerConfig(Config):
    """The configuration each worker of ``serve --workers N`` loads. uvicorn's supervisor pickles it
    into every spawned process, so it holds only import strings and plain values: ``factory`` builds
    the app in the worker, ``http`` is the base protocol (the subclass carrying ``head_timeout`` is
    made in the worker, as a class made at run time does not pickle), and ``trust_of`` (TLS) builds
    the store's client-certificate trust from the worker's app."""

    def __init__(self, factory: str, *, head_timeout: float, trust_of: str | None, **kwargs: Any) -> None:
        super().__init__(factory, factory=True, **kwargs)
        self.head_timeout = head_timeout
        self.trust_of = trust_of

    def load(self) -> None:
        from uvicorn.importer import import_from_string

        install_log_filters()  # this process's loggers
        if isinstance(self.http, type) and issubclass(self.http, HardenedH11Protocol):
            self.http = timed_protocol(self.http, self.head_timeout)
        app = import_from_string(self.app)()
        self.app, self.factory = app, False
        super().load()
        if self.trust_of is not None and self.ssl is not None:
            import_from_string(self.trust_of)(app).install(self.ssl)


def run_workers(
    factory: str,
    settings: Settings,
    workers: int,
    tls_options: dict[str, Any] | None = None,
    trust_of: str | None = None,
    sock: socket.socket | None = None,
) -> None:
    """Serve with ``workers`` processes behind one socket (``sock``, already bound, or bound here)
    until interrupted. ``factory``: import string
    of a function of no arguments returning the app (settings from the environment); ``trust_of``:
    import string of a function of that app returning its tls.StoreTrust."""
    from uvicorn.supervisors import Multiprocess

    install_log_filters()
    tls_options = dict(tls_options or {})
    protocol = tls_options.pop("http", HardenedH11Protocol)
    options = {
        **uvicorn_config_options(protocol, settings.head_timeout_seconds, settings.keep_alive_seconds),
        **tls_options,
        "http": protocol,  # made timed in each worker (WorkerConfig.load)
    }
    config = WorkerConfig(
        factory,
        head_timeout=settings.head_timeout_seconds,
        trust_of=trust_of,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        workers=workers,
        access_log=False,  # the journal's line per request replaces it (serve_logs.py)
        timeout_graceful_shutdown=5,  # open event streams (api/emulator/journal.py) must not hold exit
        **options,
    )
    if sock is None:
        sock = config.bind_socket()
    sock.set_inheritable(True)
    try:
        if "target" in inspect.signature(Multiprocess).parameters:  # uvicorn before the Process rework
            import uvicorn

            Multiprocess(config, target=uvicorn.Server(config).run, sockets=[sock]).run()  # type: ignore[call-arg]
        else:
            Multiprocess(config, sockets=[sock]).run()
    finally:
        sock.close()

"""A real HTTP server standing in for the merchant's notify_url."""

import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.common import WAIT_SECONDS


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: str
    answered: int
    at: float  # time.monotonic() on arrival


class Receiver:
    """A real HTTP server standing in for the merchant's notify_url.

    Answers come from ``statuses`` in order (an entry may be ``(status, delay_seconds)``), then
    ``then``. The body is APIv3's JSON unless ``reply`` is set: it maps the status to (content type,
    body), for the families whose acknowledgement is in the body (v2 XML, cloud errcode JSON).
    Requests to a path other than this receiver's own token are answered 404 and kept apart
    in ``stray``, so a retry meant for an earlier test can never be counted by a later one.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._requests: list[Received] = []
        self._stray: list[Received] = []
        self._plan: list[tuple[int, float]] = []
        self._then = 200
        self.token = secrets.token_hex(8)
        self.reply: Callable[[int], tuple[str, bytes]] | None = None
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(min(length, 1 << 20)).decode("utf-8", "replace")
                status, delay = receiver._take(self.path)
                receiver._record(self.path, dict(self.headers.items()), body, status)
                if delay:
                    time.sleep(delay)
                content_type = "application/json"
                if receiver.reply is not None:
                    content_type, payload = receiver.reply(status)
                elif status == 204:
                    payload = b""
                else:
                    code = "SUCCESS" if status < 300 else "FAIL"
                    payload = json.dumps({"code": code, "message": "e2e"}).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:  # the emulator gave up waiting (its 5 s timeout): nothing to answer
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port: int = self.server.server_address[1]
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/notify/{self.token}"

    def answer(self, *statuses: int | tuple[int, float], then: int = 200) -> None:
        """Answer the next requests with ``statuses`` (each an int or (status, delay)), then ``then``."""
        with self._cond:
            self._plan = [s if isinstance(s, tuple) else (s, 0.0) for s in statuses]
            self._then = then

    def _take(self, path: str) -> tuple[int, float]:
        with self._cond:
            if path != f"/notify/{self.token}":
                return 404, 0.0
            if self._plan:
                return self._plan.pop(0)
            return self._then, 0.0

    def _record(self, path: str, headers: dict[str, str], body: str, status: int) -> None:
        with self._cond:
            target = self._requests if path == f"/notify/{self.token}" else self._stray
            target.append(Received(path, headers, body, status, time.monotonic()))
            self._cond.notify_all()

    @property
    def requests(self) -> list[Received]:
        with self._cond:
            return list(self._requests)

    @property
    def stray(self) -> list[Received]:
        with self._cond:
            return list(self._stray)

    def wait_for(self, n: int, timeout: float = WAIT_SECONDS) -> list[Received]:
        """Block until at least ``n`` requests have arrived; fail after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            for _ in range(int(timeout / 0.05) + 2):
                if len(self._requests) >= n:
                    return list(self._requests)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(min(remaining, 0.05))
            got = list(self._requests)
        if len(got) >= n:
            return got
        raise AssertionError(f"expected {n} notification(s) within {timeout}s, got {len(got)}: {got!r}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)

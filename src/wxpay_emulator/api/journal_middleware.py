"""Records every call of every API family in the journal (journal/), after its response.

Plain ASGI (see middleware.py for why not BaseHTTPMiddleware). Control-plane and page paths pass
straight through. For a family path it gives the request a fresh note (journal/context.py) that the
verifiers fill in, keeps the first bytes of both bodies as they stream past, and, once the last byte of
the answer is sent, hands the call to the journal's writer thread: the request itself pays only for
copying a few references and a queue append.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wxpay_emulator.api.shapes import Shapes
from wxpay_emulator.clock import Clock
from wxpay_emulator.journal import context
from wxpay_emulator.journal.entries import MAX_BODY_BYTES, RawCall
from wxpay_emulator.journal.service import Journal

# Shape name -> journal family (both cloud shapes, hosting and functions, are the cloud family).
FAMILY_OF_SHAPE = {"v3": "v3", "v2": "v2", "cloud": "cloud", "cloudfn": "cloud", "miniprogram": "miniprogram"}


class _Capture:
    """The first MAX_BODY_BYTES of a body, and its full length."""

    __slots__ = ("chunks", "kept", "total")

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.kept = 0
        self.total = 0

    def add(self, data: bytes) -> None:
        self.total += len(data)
        if self.kept < MAX_BODY_BYTES and data:
            piece = data[: MAX_BODY_BYTES - self.kept]
            self.chunks.append(piece)
            self.kept += len(piece)

    def bytes(self) -> bytes:
        return b"".join(self.chunks)


class JournalMiddleware:
    def __init__(self, app: ASGIApp, shapes: Shapes, journal: Journal) -> None:
        self.app = app
        self.shapes = shapes
        self.journal = journal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        shape = self.shapes.of(scope.get("path", ""))
        if shape is None:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        when = Clock.real_now()
        request_body = _Capture()
        response_body = _Capture()
        response: dict[str, object] = {"status": 500, "headers": []}

        async def journal_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                request_body.add(message.get("body", b""))
            return message

        async def journal_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                response["status"] = message["status"]
                response["headers"] = message.get("headers", [])
            elif message["type"] == "http.response.body":
                response_body.add(message.get("body", b""))
            await send(message)

        note, token = context.begin()
        try:
            await self.app(scope, journal_receive, journal_send)
        finally:
            context.end(token)
            status = response["status"]
            headers = response["headers"]
            self.journal.record(
                RawCall(
                    time=when,
                    family=FAMILY_OF_SHAPE.get(shape.name, shape.name),
                    method=scope.get("method", ""),
                    path=scope.get("path", ""),
                    query=scope.get("query_string", b"").decode("latin-1"),
                    request_headers=scope.get("headers", []),
                    request_body=request_body.bytes(),
                    request_total=request_body.total,
                    status=status if isinstance(status, int) else 500,
                    response_headers=list(headers) if isinstance(headers, list) else [],
                    response_body=response_body.bytes(),
                    response_total=response_body.total,
                    duration_ms=(time.perf_counter() - started) * 1000,
                    mchid=note.mchid,
                    sign_check=note.sign_check,
                )
            )

"""Request body limits, enforced while the body streams in, and a read timeout between body chunks.

A body bigger than its family's limit is refused as soon as that is known: at once when the
``Content-Length`` says so, otherwise when the bytes counted so far pass the limit; the application
never holds more than the limit (plus one network chunk). The refusal is in the family's own shape:

========================  ========  ===================================================================
family                    limit     answer
========================  ========  ===================================================================
APIv2 (``/pay/`` ...)     64 KiB    HTTP 200 XML ``return_code=FAIL``, ``XML_FORMAT_ERROR`` (as before,
                                    when the limit was checked after reading everything)
APIv3 (``/v3/``)          1 MiB     HTTP 400 ``PARAM_ERROR`` (WeChat documents no size error for APIv3;
                                    400 PARAM_ERROR is its answer to any request it cannot take)
cloud (``/_/``)           256 KiB   ``{"errcode": -1}`` / ``{"errCode": -1}``, as every bad request
Mini Program              64 KiB    ``{"errcode": 47001}`` (data format error)
control plane, pages      1 MiB     HTTP 413 ``{"code": "REQUEST_TOO_LARGE", "message"}``
========================  ========  ===================================================================

The rest of a refused body is read and dropped by the server (no memory), so the client receives the
answer instead of a reset; the connection is closed if that rest does not arrive within the request
head timeout (serving.py). A body that stalls for ``BODY_IDLE_SECONDS`` between two chunks is refused
in the same shapes and the connection closed.
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wxpay_emulator.api.safejson import JSONResponse
from wxpay_emulator.api.shapes import Shapes

# Each family's limit and answer are in its Shape (``body_limit``, ``refused_body``); paths no family
# owns (control plane, pages) get this one.
CONTROL_PLANE_LIMIT = 1024 * 1024
BODY_IDLE_SECONDS = 30.0


def limit_for(shapes: Shapes, path: str) -> int:
    shape = shapes.of(path)
    return CONTROL_PLANE_LIMIT if shape is None else shape.body_limit


def refusal(shapes: Shapes, scope: Scope, message: str, status: int = 413) -> Response:
    """The family's answer to a body it will not read (``status`` only for the control plane)."""
    shape = shapes.of(scope.get("path", ""))
    if shape is None:
        code = "REQUEST_TOO_LARGE" if status == 413 else "REQUEST_TIMEOUT"
        return JSONResponse({"code": code, "message": message}, status_code=status)
    return shape.refuse_body(Request(scope), message)


class _Refused(Exception):
    def __init__(self, message: str, status: int, close: bool) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.close = close


class LimitBody:
    """Count body bytes as they arrive and refuse past the family's limit (see the module doc)."""

    def __init__(self, app: ASGIApp, shapes: Shapes) -> None:
        self.app = app
        self.shapes = shapes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = limit_for(self.shapes, scope.get("path", ""))
        too_large = f"请求体过大: 超过{limit}字节的上限"
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await refusal(self.shapes, scope, too_large)(scope, receive, send)
                return
        received = 0
        started = False
        refused: _Refused | None = None

        body_done = False

        async def counting_receive() -> Message:
            nonlocal received, refused, body_done
            if body_done:
                # The body is in: what is left to wait for is the disconnect, which a streaming answer
                # (the event stream) waits for as long as it runs; no idle limit applies to it.
                return await receive()
            try:
                async with asyncio.timeout(BODY_IDLE_SECONDS):
                    message = await receive()
            except TimeoutError:
                refused = _Refused(f"请求体读取超时: {BODY_IDLE_SECONDS:.0f}秒内未收到数据", 408, True)
                raise refused from None
            if message["type"] == "http.request":
                body_done = not message.get("more_body", False)
                received += len(message.get("body", b""))
                if received > limit:
                    refused = _Refused(too_large, 413, False)
                    raise refused
            return message

        async def tracking_send(message: Message) -> None:
            # Once the body is refused, whatever the application makes of the exception (FastAPI turns
            # one raised while it parses a body into its own 400) is dropped for the family's refusal.
            nonlocal started
            if refused is not None and not started:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except Exception:
            if refused is None or started:
                raise
        if refused is not None and not started:
            response = refusal(self.shapes, scope, refused.message, refused.status)
            if refused.close:
                response.headers["connection"] = "close"
            await response(scope, receive, send)

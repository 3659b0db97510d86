"""The body's idle limit ends with the body: a streaming answer that waits on receive() for the
client's disconnect (the event stream) is not cut by it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from wxpay_emulator.api import limits
from wxpay_emulator.api.limits import LimitBody
from wxpay_emulator.api.shapes import Shapes


async def _drive(app: Any, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    queue = list(messages)

    async def receive() -> dict[str, Any]:
        if queue:
            return queue.pop(0)
        await asyncio.sleep(0.3)  # longer than the idle limit below: the client is silent, then leaves
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/emulator/v1/events", "headers": []}
    await app(scope, receive, send)
    return sent


def test_waiting_for_the_disconnect_after_the_body_is_not_an_idle_body(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(limits, "BODY_IDLE_SECONDS", 0.05)

    async def streaming(scope: Any, receive: Any, send: Any) -> None:
        assert (await receive())["type"] == "http.request"
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"data: 1\n\n", "more_body": True})
        assert (await receive())["type"] == "http.disconnect"  # waited past the idle limit
        await send({"type": "http.response.body", "body": b""})

    sent = asyncio.run(_drive(LimitBody(streaming, Shapes([])), [{"type": "http.request", "body": b""}]))
    assert [m.get("status") for m in sent if m["type"] == "http.response.start"] == [200]
    assert sent[-1] == {"type": "http.response.body", "body": b""}

"""Issue 10 item 9 in process: every family refuses a body over its limit while reading it, in its own
shape (declared by Content-Length: before reading anything; streamed without one: as soon as the count
passes the limit), a stalled body is refused, and the EMFILE log line is rate-limited."""

from __future__ import annotations

import asyncio
import errno
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from wxpay_emulator.api import limits
from wxpay_emulator.api.shapes import Shapes
from wxpay_emulator.app import create_app
from wxpay_emulator.config import Settings
from wxpay_emulator.registry import FAMILIES
from wxpay_emulator.serving import RateLimitedResourceErrors

CHUNK = 16 * 1024

# path, headers, the family's limit, a check of the refusal
CASES: list[tuple[str, dict[str, str], int]] = [
    ("/pay/unifiedorder", {"Content-Type": "text/xml"}, 64 * 1024),
    ("/sandboxnew/pay/unifiedorder", {"Content-Type": "text/xml"}, 64 * 1024),
    ("/secapi/pay/refund", {"Content-Type": "text/xml"}, 64 * 1024),
    ("/v3/pay/transactions/native", {"Content-Type": "application/json"}, 1024 * 1024),
    ("/_/pay/unifiedorder", {"Content-Type": "application/json"}, 256 * 1024),
    ("/_/cloudpay/unifiedOrder", {"Content-Type": "application/json"}, 256 * 1024),
    ("/cgi-bin/stable_token", {"Content-Type": "application/json"}, 64 * 1024),
    ("/emulator/v1/merchants", {"Content-Type": "application/json"}, 1024 * 1024),
]


def check_refusal(path: str, answer: httpx.Response, limit: int) -> None:
    text = answer.text
    assert str(limit) in text, text
    if path.startswith(("/pay/", "/sandboxnew/", "/secapi/")):
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/xml")
        assert "<return_code><![CDATA[FAIL]]></return_code>" in text and "XML_FORMAT_ERROR" in text
    elif path.startswith("/v3/"):
        assert answer.status_code == 400 and answer.json()["code"] == "PARAM_ERROR"
    elif path.startswith("/_/cloudpay/"):
        assert answer.json()["errCode"] == -1 and answer.json()["errMsg"].startswith(
            "cloudPay.unifiedOrder:fail"
        )
    elif path.startswith("/_/"):
        assert answer.json()["errcode"] == -1
    elif path.startswith("/cgi-bin/"):
        assert answer.json()["errcode"] == 47001
    else:
        assert answer.status_code == 413 and answer.json()["code"] == "REQUEST_TOO_LARGE"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return create_app(Settings(data_dir=tmp_path_factory.mktemp("limits")))


def run(app: Any, path: str, headers: dict[str, str], content: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return await client.post(path, headers=headers, content=content)

    return asyncio.run(go())


@pytest.mark.parametrize(("path", "headers", "limit"), CASES)
def test_a_declared_length_over_the_limit_is_refused_before_reading(
    app: Any, path: str, headers: dict[str, str], limit: int
) -> None:
    pulled = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal pulled
        for _ in range(limit // CHUNK + 2):
            pulled += 1
            yield b"x" * CHUNK

    declared = {**headers, "Content-Length": str((limit // CHUNK + 2) * CHUNK)}
    answer = run(app, path, declared, body())
    check_refusal(path, answer, limit)
    assert pulled <= 1  # the application read nothing of it


# APIv3 authenticates before it reads a body, so an unsigned stream is refused before the limit is
# reached; tests/e2e/server/test_limits.py streams a signed one.
@pytest.mark.parametrize(("path", "headers", "limit"), [c for c in CASES if not c[0].startswith("/v3/")])
def test_a_streamed_body_is_refused_once_it_passes_the_limit(
    app: Any, path: str, headers: dict[str, str], limit: int
) -> None:
    pulled = 0
    total_chunks = 20 * (limit // CHUNK)  # twenty times the limit, made as it is pulled

    async def body() -> AsyncIterator[bytes]:
        nonlocal pulled
        for _ in range(total_chunks):
            pulled += 1
            yield b"x" * CHUNK

    answer = run(app, path, headers, body())
    check_refusal(path, answer, limit)
    assert pulled <= limit // CHUNK + 3, pulled


@pytest.mark.parametrize(("path", "headers", "limit"), CASES)
def test_a_body_at_the_limit_is_read(app: Any, path: str, headers: dict[str, str], limit: int) -> None:
    answer = run(app, path, headers, b" " * limit)
    assert "REQUEST_TOO_LARGE" not in answer.text and f"超过{limit}字节" not in answer.text


def test_a_stalled_body_is_refused(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "BODY_IDLE_SECONDS", 0.2)

    async def body() -> AsyncIterator[bytes]:
        yield b"<xml>"
        await asyncio.sleep(2)
        yield b"</xml>"

    answer = run(app, "/pay/unifiedorder", {"Content-Type": "text/xml"}, body())
    assert answer.status_code == 200 and "XML_FORMAT_ERROR" in answer.text and "超时" in answer.text
    assert answer.headers["connection"] == "close"


def test_resource_errors_are_logged_once_per_interval() -> None:
    now = [0.0]
    limiter = RateLimitedResourceErrors(interval=10, clock=lambda: now[0])
    records = []
    for i in range(1000):
        now[0] = i * 0.05  # 1000 failures over 50 s
        exc = OSError(errno.EMFILE, "Too many open files")
        record = logging.LogRecord(
            "asyncio",
            logging.ERROR,
            "x",
            1,
            "socket.accept() out of system resource",
            (),
            (OSError, exc, None),
        )
        if limiter.filter(record):
            records.append(record)
    assert len(records) == 5
    assert records[0].exc_info is None and "Too many open files" in records[0].getMessage()
    assert "199 more like it in the last 10 s" in records[1].getMessage()
    other = logging.LogRecord("asyncio", logging.ERROR, "x", 1, "something else", (), None)
    assert limiter.filter(other)


def test_unowned_paths_use_the_control_plane_limit() -> None:
    shapes = Shapes(shape for spec in FAMILIES for shape in spec.shapes)
    assert limits.limit_for(shapes, "/") == limits.CONTROL_PLANE_LIMIT
    assert limits.limit_for(shapes, "/pay/unifiedorder") == 64 * 1024
    assert limits.limit_for(shapes, "/_/cloudpay/unifiedOrder") == 256 * 1024

"""Issue 10 item 10 in process: with a control token in force, the control plane and every page
answer 401 without it; Bearer and the cookie set by ``?token=`` let a caller in; WeChat's own API paths
are never asked for it. Which bind addresses turn the rule on is decided by ``token_required``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from wxpay_emulator.api.control_token import (
    COOKIE,
    RequireControlToken,
    control_token,
    is_loopback,
    is_wechat_api_path,
    token_required,
)
from wxpay_emulator.api.shapes import Shapes
from wxpay_emulator.app import create_app
from wxpay_emulator.config import Settings
from wxpay_emulator.registry import FAMILIES

TOKEN = "t0ken-for-tests"
T = TypeVar("T")

# Everything that is not one of WeChat's API paths (existing or not: "/" is the dashboard's place).
GUARDED = [
    ("GET", "/"),
    ("GET", "/emulator/v1/merchants"),
    ("GET", "/emulator/v1/orders"),
    ("POST", "/emulator/v1/reset"),
    ("POST", "/emulator/v1/clock"),
    ("GET", "/emulator/v1/checkout?mchid=1&out_trade_no=x"),
    ("GET", "/emulator/docs"),
    ("GET", "/emulator/openapi.json"),
    ("GET", "/favicon.ico"),
]
# WeChat's own paths answer in their own way (signatures, XML, errcode), never 401 UNAUTHORIZED.
WECHAT = [
    ("POST", "/v3/pay/transactions/native"),
    ("GET", "/v3/certificates"),
    ("POST", "/pay/unifiedorder"),
    ("POST", "/sandboxnew/pay/getsignkey"),
    ("POST", "/secapi/pay/refund"),
    ("POST", "/_/pay/unifiedorder"),
    ("POST", "/_/cloudpay/unifiedOrder"),
    ("GET", "/cgi-bin/token?grant_type=client_credential&appid=x&secret=y"),
    ("GET", "/wxa/getpaidunionid?access_token=x&openid=y"),
]


def in_app(settings: Settings, use: Callable[[httpx.AsyncClient], Awaitable[T]]) -> T:
    app = create_app(settings)

    async def go() -> T:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return await use(client)

    return asyncio.run(go())


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.10", False),
        ("10.0.0.1", False),
        ("example.com", False),
        ("", False),
    ],
)
def test_which_bind_addresses_require_the_token(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
    assert token_required(Settings(host=host)) is (not loopback)
    assert token_required(Settings(host=host, control_token="x"))  # set explicitly: always required
    assert token_required(Settings(host=host, require_token=True))
    generated = control_token(Settings(host=host))
    assert (generated is None) is loopback
    assert generated is None or len(generated) >= 40
    assert control_token(Settings(host=host, control_token="mine")) == "mine"


def test_wechat_api_paths_are_defined_by_the_family_shapes() -> None:
    shapes = Shapes(shape for spec in FAMILIES for shape in spec.shapes)
    assert all(is_wechat_api_path(shapes, path.split("?")[0]) for _, path in WECHAT)
    assert not any(is_wechat_api_path(shapes, path.split("?")[0]) for _, path in GUARDED)


def test_without_the_token_every_guarded_path_answers_401(tmp_path: Path) -> None:
    async def use(client: httpx.AsyncClient) -> list[tuple[str, httpx.Response]]:
        found = []
        for method, path in GUARDED:
            found.append((path, await client.request(method, path)))
            bad = {"Authorization": "Bearer wrong", "Cookie": f"{COOKIE}=wrong"}
            found.append((path, await client.request(method, path, headers=bad)))
        found.append(("?token=wrong", await client.get("/?token=wrong")))
        return found

    for path, answer in in_app(Settings(data_dir=tmp_path, control_token=TOKEN), use):
        assert answer.status_code == 401, (path, answer.text)
        assert answer.json()["code"] == "UNAUTHORIZED" and answer.json()["message"], path
        assert answer.headers["www-authenticate"].startswith("Bearer")


# FastAPI warns of duplicate operation ids of APIv3's catch-all route while it builds openapi.json
# (already so on main; not this test's subject).
@pytest.mark.filterwarnings("ignore:Duplicate Operation ID")
def test_bearer_and_cookie_let_a_caller_in(tmp_path: Path) -> None:
    async def use(client: httpx.AsyncClient) -> dict[str, Any]:
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        out: dict[str, Any] = {
            "merchants": (await client.get("/emulator/v1/merchants", headers=bearer)).status_code,
            "docs": (await client.get("/emulator/docs", headers=bearer)).status_code,
            "openapi": (await client.get("/emulator/openapi.json", headers=bearer)).status_code,
            "health": (await client.get("/emulator/v1/health")).status_code,
        }
        visit = await client.get("/emulator/v1/orders?token=" + TOKEN + "&mchid=1900000001")
        out["visit"] = visit
        out["after_cookie"] = (await client.get("/emulator/v1/merchants")).status_code  # client keeps cookies
        return out

    out = in_app(Settings(data_dir=tmp_path, control_token=TOKEN), use)
    assert out["merchants"] == out["docs"] == out["openapi"] == out["health"] == 200
    visit: httpx.Response = out["visit"]
    assert visit.status_code == 303 and visit.headers["location"] == "/emulator/v1/orders?mchid=1900000001"
    cookie = visit.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}={TOKEN}") and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert out["after_cookie"] == 200


def test_wechat_paths_never_ask_for_the_token(tmp_path: Path) -> None:
    async def use(client: httpx.AsyncClient) -> list[tuple[str, httpx.Response]]:
        return [(path, await client.request(method, path)) for method, path in WECHAT]

    for path, answer in in_app(Settings(data_dir=tmp_path, control_token=TOKEN), use):
        assert "UNAUTHORIZED" not in answer.text, (path, answer.text)
        assert answer.status_code != 401 or path.startswith("/v3/"), (path, answer.status_code)
        if path.startswith("/v3/"):  # APIv3's own 401: its signature check, in its own shape
            assert answer.json()["code"] == "SIGN_ERROR"


def test_on_loopback_without_a_token_nothing_changes(tmp_path: Path) -> None:
    async def use(client: httpx.AsyncClient) -> int:
        return (await client.get("/emulator/v1/merchants")).status_code

    assert in_app(Settings(data_dir=tmp_path), use) == 200


@pytest.mark.parametrize(
    ("path", "query", "location"),
    [
        ("//evil.example/x", "token=" + TOKEN, "/evil.example/x"),
        ("///evil.example", "token=" + TOKEN + "&a=1", "/evil.example?a=1"),
        ("/\\evil.example/x", "token=" + TOKEN, "/evil.example/x"),
        ("/\\/evil.example", "token=" + TOKEN, "/evil.example"),
        ("/emulator/v1/orders", "token=" + TOKEN, "/emulator/v1/orders"),
    ],
)
def test_the_token_visit_redirects_only_to_a_path_of_this_origin(
    path: str, query: str, location: str
) -> None:
    """A path that starts with ``//`` (or ``/\\``, which browsers read alike) would make the redirect
    a network-path reference to another host: an open redirect. It is made a path of this origin."""
    shapes = Shapes(shape for spec in FAMILIES for shape in spec.shapes)

    async def never(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("the token visit is answered by the redirect, not passed on")

    guard = RequireControlToken(never, TOKEN, shapes)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "query_string": query.encode(),
        "headers": [],
        "scheme": "http",
    }
    asyncio.run(guard(scope, receive, send))
    start = sent[0]
    assert start["status"] == 303
    headers = {k.decode(): v.decode() for k, v in start["headers"]}
    assert headers["location"] == location
    assert headers["location"].startswith("/") and not headers["location"].startswith(("//", "/\\"))
    assert httpx.URL("http://127.0.0.1:8000").join(headers["location"]).host == "127.0.0.1"

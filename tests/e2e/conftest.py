"""End-to-end fixtures: a real emulator process, a real notification receiver, real SDK clients.

Everything here talks to 127.0.0.1 only, and every wait has a deadline and a bounded number of polls.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

import httpx
import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from wechatpayv3 import WeChatPay, WeChatPayType
from wechatpayv3.core import Core

from wxpay_emulator.testing import EmulatorProcess, run_emulator

DEFAULT_MCHID = "1900000001"
FAST_NOTIFY = {"WXPAY_EMULATOR_NOTIFY_TIME_SCALE": "0.01"}
WAIT_SECONDS = 15.0  # the longest a test waits for something that normally takes milliseconds
POLL_SECONDS = 0.02
AUTH_SCHEME = "WECHATPAY2-SHA256-RSA2048"
OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"

T = TypeVar("T")


def poll(fetch: Callable[[], T], until: Callable[[T], bool], what: str, timeout: float = WAIT_SECONDS) -> T:
    """Call ``fetch`` until ``until(result)`` holds; bounded both in time and in number of calls."""
    deadline = time.monotonic() + timeout
    value = fetch()
    for _ in range(int(timeout / POLL_SECONDS) + 1):
        if until(value) or time.monotonic() >= deadline:
            break
        time.sleep(POLL_SECONDS)
        value = fetch()
    if not until(value):
        raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {value!r}")
    return value


def new_trade_no(prefix: str = "E2E") -> str:
    """A fresh out_trade_no (WeChat allows 6 to 32 of [0-9A-Za-z_-|*])."""
    return f"{prefix}_{secrets.token_hex(10)}"[:32]


# --- the merchant's notification endpoint --------------------------------------------------------------


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


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    try:
        yield r
    finally:
        r.close()


# --- PostgreSQL ---------------------------------------------------------------------------------------

PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test"


@contextmanager
def fresh_postgres_database(prefix: str) -> Iterator[str]:
    """A new database on 127.0.0.1:5432 (its name), dropped after. Without the server the test is
    skipped with the reason, except in CI (``CI`` set), where it fails."""
    try:
        import psycopg
        from psycopg import sql

        admin = psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=3)
    except Exception as exc:
        reason = f"PostgreSQL on 127.0.0.1:5432 is not reachable ({type(exc).__name__}: {exc})"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    name = f"{prefix}_{secrets.token_hex(6)}"
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


# --- the emulator --------------------------------------------------------------------------------------


class Emu:
    """A running emulator and its control plane (``/emulator/v1``)."""

    def __init__(self, process: EmulatorProcess, http: httpx.Client) -> None:
        self.process = process
        self.http = http

    @property
    def url(self) -> str:
        return self.process.url

    def control(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, self.url + "/emulator/v1" + path, **kwargs)

    def pay(self, result: str = "SUCCESS", **ident: str) -> httpx.Response:
        return self.control("POST", "/payments", json={**ident, "result": result})

    def orders(self, mchid: str | None = None) -> list[dict[str, Any]]:
        response = self.control("GET", "/orders", params={"mchid": mchid} if mchid else None)
        assert response.status_code == 200, response.text
        data: list[dict[str, Any]] = response.json()["data"]
        return data

    def orders_with(self, out_trade_no: str) -> list[dict[str, Any]]:
        return [o for o in self.orders() if o["transaction"]["out_trade_no"] == out_trade_no]

    def notifications(self) -> list[dict[str, Any]]:
        response = self.control("GET", "/notifications")
        assert response.status_code == 200, response.text
        data: list[dict[str, Any]] = response.json()["data"]
        return data

    def notification(self, notification_id: str) -> dict[str, Any] | None:
        return next((n for n in self.notifications() if n["id"] == notification_id), None)

    def wait_notification(
        self, notification_id: str, until: Callable[[dict[str, Any]], bool], what: str
    ) -> dict[str, Any]:
        found = poll(
            lambda: self.notification(notification_id),
            lambda n: n is not None and until(n),
            f"notification {notification_id}: {what}",
        )
        assert found is not None
        return found

    def reset(self) -> None:
        response = self.control("POST", "/reset")
        assert response.status_code == 200, response.text


@pytest.fixture(scope="module")
def emulator_env() -> dict[str, str]:
    """Environment of the module's emulator; a module overrides this fixture to change settings."""
    return dict(FAST_NOTIFY)


@pytest.fixture(scope="module")
def emulator_database_url() -> str | None:
    """None: SQLite in the data dir. The PostgreSQL module overrides it."""
    return None


@pytest.fixture(scope="module")
def emulator_process(
    tmp_path_factory: pytest.TempPathFactory, emulator_env: dict[str, str], emulator_database_url: str | None
) -> Iterator[EmulatorProcess]:
    data_dir = tmp_path_factory.mktemp("emulator")
    with run_emulator(data_dir, env=emulator_env, database_url=emulator_database_url) as process:
        yield process


@pytest.fixture(scope="module")
def control_http() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def merchants(emulator_process: EmulatorProcess) -> dict[str, dict[str, Any]]:
    """The default merchant (public-key mode) and one in platform-certificate mode."""
    default = emulator_process.merchant(DEFAULT_MCHID)
    assert default["key_mode"] == "pubkey"
    cert = emulator_process.create_merchant(key_mode="cert")
    assert cert["key_mode"] == "cert"
    return {"pubkey": default, "cert": cert}


@pytest.fixture
def emu(emulator_process: EmulatorProcess, control_http: httpx.Client) -> Emu:
    """The module's emulator with orders, notifications and the clock reset (merchants stay)."""
    e = Emu(emulator_process, control_http)
    e.reset()
    return e


# --- wechatpayv3 clients -------------------------------------------------------------------------------

MakeWxpay = Callable[..., WeChatPay]


def build_wxpay(
    base_url: str,
    merchant: dict[str, Any],
    notify_url: str,
    *,
    bootstrap: bool = False,
) -> WeChatPay:
    """wechatpayv3 pointed at the emulator, in the merchant's key mode (DESIGN.md §3).

    pubkey: public_key + public_key_id. cert: cert_dir holding the platform certificate. cert with
    ``bootstrap``: no cert_dir, so the constructor downloads /v3/certificates; Core._init_certificates is
    wrapped for the duration of the constructor so that the download goes to the emulator.
    """
    common: dict[str, Any] = {
        "wechatpay_type": WeChatPayType.MINIPROG,
        "mchid": merchant["mchid"],
        "private_key": merchant["apiclient_key.pem"],
        "cert_serial_no": merchant["serial_no"],
        "apiv3_key": merchant["apiv3_key"],
        "appid": merchant["appid"],
        "notify_url": notify_url,
        "timeout": (5, 30),
    }
    if merchant["key_mode"] == "pubkey":
        client = WeChatPay(**common, public_key=merchant["pub_key.pem"], public_key_id=merchant["pub_key_id"])
    elif not bootstrap:
        client = WeChatPay(**common, cert_dir=merchant["folder"] + "/certs/")
    else:
        original = Core._init_certificates

        def init_certificates(core: Core) -> None:
            core._gate_way = base_url
            original(core)

        Core._init_certificates = init_certificates  # type: ignore[method-assign]
        try:
            client = WeChatPay(**common)
        finally:
            Core._init_certificates = original  # type: ignore[method-assign]
    client._core._gate_way = base_url
    return client


@pytest.fixture
def make_wxpay(emu: Emu, merchants: dict[str, dict[str, Any]]) -> MakeWxpay:
    """make_wxpay(mode, notify_url): mode is "pubkey", "cert" (cert_dir) or "cert-bootstrap"."""

    def make(mode: str, notify_url: str) -> WeChatPay:
        merchant = merchants["pubkey" if mode == "pubkey" else "cert"]
        return build_wxpay(emu.url, merchant, notify_url, bootstrap=mode == "cert-bootstrap")

    return make


# --- hand-built APIv3 requests and response verification -------------------------------------------


def _load_private_key(pem: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def platform_public_key(merchant: dict[str, Any]) -> tuple[str, rsa.RSAPublicKey]:
    """(expected Wechatpay-Serial, key) the platform signs this merchant's answers with."""
    if merchant["key_mode"] == "pubkey":
        key = serialization.load_pem_public_key(merchant["pub_key.pem"].encode())
        serial = merchant["pub_key_id"]
    else:
        cert = x509.load_pem_x509_certificate(merchant["wechatpay_cert.pem"].encode())
        assert cert.serial_number == int(merchant["platform_serial"], 16)
        key = cert.public_key()
        serial = merchant["platform_serial"]
    assert isinstance(key, rsa.RSAPublicKey)
    return serial, key


def verify_wechatpay_signature(
    headers: httpx.Headers | dict[str, str],
    body: bytes,
    key: rsa.RSAPublicKey,
    serial: str,
    max_skew: int = 300,
) -> None:
    """Assert the Wechatpay-* headers sign ``TS\\nNONCE\\nBODY\\n`` with ``key`` (DESIGN.md §2)."""
    h = httpx.Headers(headers)
    for name in ("Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Serial", "Wechatpay-Signature"):
        assert h.get(name), f"missing {name} in {dict(h)}"
    assert h.get("Wechatpay-Signature-Type") == AUTH_SCHEME
    assert h["Wechatpay-Serial"] == serial
    timestamp = h["Wechatpay-Timestamp"]
    assert abs(int(timestamp) - time.time()) <= max_skew, f"Wechatpay-Timestamp {timestamp} is not now"
    message = f"{timestamp}\n{h['Wechatpay-Nonce']}\n".encode() + body + b"\n"
    try:
        key.verify(base64.b64decode(h["Wechatpay-Signature"]), message, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature as exc:
        raise AssertionError(f"Wechatpay-Signature does not verify over {message!r}") from exc


class V3Api:
    """Signs APIv3 requests by hand (RSA PKCS#1 v1.5 SHA-256), so tests control every byte."""

    def __init__(self, base_url: str, merchant: dict[str, Any], http: httpx.Client) -> None:
        self.base_url = base_url
        self.merchant = merchant
        self.http = http
        self.key = _load_private_key(merchant["apiclient_key.pem"])

    def authorization(
        self,
        method: str,
        path: str,
        body: bytes,
        *,
        mchid: str | None = None,
        serial_no: str | None = None,
        timestamp: int | None = None,
        nonce: str | None = None,
        key: rsa.RSAPrivateKey | None = None,
        field_order: tuple[str, ...] = ("mchid", "nonce_str", "signature", "timestamp", "serial_no"),
    ) -> str:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        nonce = nonce or secrets.token_hex(16).upper()
        message = f"{method}\n{path}\n{ts}\n{nonce}\n".encode() + body + b"\n"
        signature = base64.b64encode((key or self.key).sign(message, padding.PKCS1v15(), hashes.SHA256()))
        values = {
            "mchid": mchid or self.merchant["mchid"],
            "nonce_str": nonce,
            "signature": signature.decode(),
            "timestamp": ts,
            "serial_no": serial_no or self.merchant["serial_no"],
        }
        return AUTH_SCHEME + " " + ",".join(f'{k}="{values[k]}"' for k in field_order)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | dict[str, Any] | None = None,
        *,
        sent_body: bytes | None = None,
        headers: dict[str, str] | None = None,
        **auth: Any,
    ) -> httpx.Response:
        """Sign ``body`` and send it (or ``sent_body`` instead, to tamper after signing)."""
        raw = body if isinstance(body, bytes) else b"" if body is None else json.dumps(body).encode()
        all_headers = {
            "Accept": "application/json",
            "Authorization": self.authorization(method, path, raw, **auth),
        }
        if method != "GET":
            all_headers["Content-Type"] = "application/json"
        all_headers.update(headers or {})
        content = raw if sent_body is None else sent_body
        return self.http.request(method, self.base_url + path, content=content or None, headers=all_headers)

    def assert_signed(self, response: httpx.Response, *, key_mode: str | None = None) -> None:
        """The answer carries valid Wechatpay-* headers for this merchant (or for ``key_mode``)."""
        self.assert_headers_sign(response.headers, response.content, key_mode=key_mode)

    def assert_headers_sign(
        self, headers: httpx.Headers | dict[str, str], body: bytes, *, key_mode: str | None = None
    ) -> None:
        merchant = self.merchant if key_mode is None else {**self.merchant, "key_mode": key_mode}
        serial, key = platform_public_key(merchant)
        verify_wechatpay_signature(headers, body, key, serial)

    def prepay_body(self, out_trade_no: str, notify_url: str, **overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "appid": self.merchant["appid"],
            "mchid": self.merchant["mchid"],
            "description": "e2e 商品",
            "out_trade_no": out_trade_no,
            "notify_url": notify_url,
            "amount": {"total": 100, "currency": "CNY"},
            "payer": {"openid": OPENID},
        }
        body.update(overrides)
        return {k: v for k, v in body.items() if v is not None}


@pytest.fixture
def v3api(emu: Emu, control_http: httpx.Client) -> Callable[[dict[str, Any]], V3Api]:
    def make(merchant: dict[str, Any]) -> V3Api:
        return V3Api(emu.url, merchant, control_http)

    return make


@pytest.fixture
def v3api_for(control_http: httpx.Client) -> Callable[[str, dict[str, Any]], V3Api]:
    """v3api_for(base_url, merchant): for an emulator other than the module's."""

    def make(base_url: str, merchant: dict[str, Any]) -> V3Api:
        return V3Api(base_url, merchant, control_http)

    return make


@pytest.fixture
def emu_for(control_http: httpx.Client) -> Callable[[EmulatorProcess], Emu]:
    """emu_for(process): the control-plane helper for an emulator a test starts itself."""

    def make(process: EmulatorProcess) -> Emu:
        return Emu(process, control_http)

    return make


@pytest.fixture
def wxpay_for() -> Callable[..., WeChatPay]:
    """wxpay_for(base_url, merchant, notify_url, bootstrap=False): see build_wxpay."""
    return build_wxpay


@pytest.fixture
def trade_no() -> Callable[..., str]:
    """trade_no(prefix="E2E"): a fresh out_trade_no."""
    return new_trade_no

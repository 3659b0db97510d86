"""The request journal in process (httpx ASGI transport): each failed signature appears with its reason
and the exact string the emulator verified, secrets are masked, retention trims, cursors are stable."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from wxpay_emulator.api.v2 import wire
from wxpay_emulator.app import create_app
from wxpay_emulator.config import Settings
from wxpay_emulator.crypto import rsa_sign, v2_sign
from wxpay_emulator.domain.models import KeyMode, Merchant
from wxpay_emulator.journal.entries import mask_text
from wxpay_emulator.journal.service import EventCursor, Journal

MCHID = "1900000001"
APPID = "wxd678efh567hg6787"


class Harness:
    def __init__(self, app: FastAPI, merchant: Merchant) -> None:
        self.app = app
        self.merchant = merchant
        self.journal: Journal = app.state.journal

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://emulator.test") as client:
                return await client.request(method, path, **kwargs)

        return asyncio.run(go())

    def v3(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        *,
        signed_body: bytes | None = None,
        timestamp: int | None = None,
        serial_no: str | None = None,
        key_pem: bytes | None = None,
        nonce: str = "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
    ) -> tuple[httpx.Response, str]:
        """Send a signed APIv3 request; return the answer and the message the emulator must verify."""
        ts = str(int(time.time()) if timestamp is None else timestamp)
        signed = body if signed_body is None else signed_body
        message = rsa_sign.request_message(method, path, ts, nonce, signed)
        signature = rsa_sign.sign(key_pem or self.merchant.merchant_key_pem, message)
        auth = (
            f'{rsa_sign.AUTH_SCHEME} mchid="{self.merchant.mchid}",nonce_str="{nonce}",'
            f'signature="{signature}",timestamp="{ts}",serial_no="{serial_no or self.merchant.serial_no}"'
        )
        headers = {"Authorization": auth, "Accept": "application/json", "Content-Type": "application/json"}
        response = self.request(method, path, content=body or None, headers=headers)
        expected = rsa_sign.request_message(method, path, ts, nonce, body)
        return response, expected.decode()

    def entries(self, **params: Any) -> dict[str, Any]:
        response = self.request("GET", "/emulator/v1/requests", params=params)
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data

    def newest(self) -> dict[str, Any]:
        data: dict[str, Any] = self.entries(limit=1)["data"][0]
        return data


def make_harness(tmp_path: Path, **settings: Any) -> Iterator[Harness]:
    app = create_app(Settings(data_dir=tmp_path, **settings))
    domain = app.state.domain
    merchant = domain.merchants.find(MCHID) or domain.merchants.create(MCHID, APPID, KeyMode.PUBKEY)
    try:
        yield Harness(app, merchant)
    finally:
        app.state.journal.close()
        app.state.journal.store.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    """None: SQLite in the data dir; else a fresh PostgreSQL database (conftest.pg_url)."""
    if request.param == "sqlite":
        return None
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture(scope="module")
def module_emu(tmp_path_factory: pytest.TempPathFactory, database_url: str | None) -> Iterator[Harness]:
    # One app for the module: making a merchant's keys takes a while on a busy machine.
    yield from make_harness(tmp_path_factory.mktemp("journal"), database_url=database_url)


@pytest.fixture
def emu(module_emu: Harness) -> Harness:
    """The module's app with an empty journal."""
    assert module_emu.request("POST", "/emulator/v1/reset").status_code == 200
    return module_emu


QUERY_PATH = f"/v3/pay/transactions/out-trade-no/JOURNAL0001?mchid={MCHID}"


def test_a_good_v3_call_has_its_verified_message(emu: Harness) -> None:
    response, expected = emu.v3("GET", QUERY_PATH)
    assert response.status_code == 404 and response.json()["code"] == "ORDER_NOT_EXIST"
    entry = emu.newest()
    assert entry["family"] == "v3" and entry["method"] == "GET"
    assert entry["path"] == "/v3/pay/transactions/out-trade-no/JOURNAL0001"
    assert entry["query"] == f"mchid={MCHID}"
    assert entry["mchid"] == MCHID and entry["status"] == 404 and entry["code"] == "ORDER_NOT_EXIST"
    assert entry["duration_ms"] > 0
    assert entry["sign_check"]["ok"] is True and entry["sign_check"]["reason"] is None
    assert entry["sign_check"]["expected_message"] == expected
    assert entry["response"]["body"] == response.text


def test_a_bad_v3_signature(emu: Harness) -> None:
    body = b'{"mchid":"1900000001"}'
    path = "/v3/pay/transactions/out-trade-no/JOURNAL0002/close"
    response, expected = emu.v3("POST", path, body, signed_body=b'{"mchid":"1900000002"}')
    assert response.status_code == 401 and response.json()["code"] == "SIGN_ERROR"
    entry = emu.newest()
    assert entry["code"] == "SIGN_ERROR" and entry["status"] == 401
    check = entry["sign_check"]
    assert check["ok"] is False and check["reason"] == "signature does not verify"
    assert check["expected_message"] == expected
    assert expected == f"POST\n{path}\n{check['timestamp']}\n{check['nonce_str']}\n{body.decode()}\n"
    assert entry["request"]["body"] == body.decode()


def test_a_stale_timestamp(emu: Harness) -> None:
    stale = int(time.time()) - 1000
    response, expected = emu.v3("GET", QUERY_PATH, timestamp=stale)
    assert response.status_code == 401
    check = emu.newest()["sign_check"]
    assert check["ok"] is False
    assert check["reason"].startswith("timestamp outside ±300 s: ")
    assert "behind the real clock" in check["reason"]
    assert check["expected_message"] == expected


def test_an_unknown_serial(emu: Harness) -> None:
    response, expected = emu.v3("GET", QUERY_PATH, serial_no="5157F09EFDC096DE15EBE81A47057A7232F1B8E1")
    assert response.status_code == 401
    check = emu.newest()["sign_check"]
    assert check["ok"] is False
    assert check["reason"].startswith("unknown serial: 5157F09EFDC096DE15EBE81A47057A7232F1B8E1 ")
    assert emu.merchant.serial_no in check["reason"]
    assert check["expected_message"] == expected


def test_a_wrong_key_type_and_a_malformed_header(emu: Harness) -> None:
    emu.v3("GET", QUERY_PATH, key_pem=emu.merchant.platform_key_pem)
    check = emu.newest()["sign_check"]
    assert check["reason"].startswith("wrong key type: signed with the platform private key")
    emu.request("GET", QUERY_PATH, headers={"Authorization": "WECHATPAY2-SHA256-RSA2048 mchid=1"})
    entry = emu.newest()
    assert entry["sign_check"]["reason"].startswith("malformed Authorization header: ")
    assert entry["sign_check"]["expected_message"] is None
    emu.request("GET", QUERY_PATH)
    assert emu.newest()["sign_check"]["reason"] == "missing Authorization header"


def test_a_near_miss_gets_a_hint(emu: Harness) -> None:
    ts = str(int(time.time()))
    nonce = "NONCE0001"
    # Signed without the query string, as some hand-written clients do.
    message = rsa_sign.request_message("GET", QUERY_PATH.split("?")[0], ts, nonce, b"")
    signature = rsa_sign.sign(emu.merchant.merchant_key_pem, message)
    auth = (
        f'{rsa_sign.AUTH_SCHEME} mchid="{MCHID}",nonce_str="{nonce}",signature="{signature}",'
        f'timestamp="{ts}",serial_no="{emu.merchant.serial_no}"'
    )
    emu.request("GET", QUERY_PATH, headers={"Authorization": auth})
    check = emu.newest()["sign_check"]
    assert check["reason"] == "signature does not verify"
    assert check["hint"].startswith("the signature verifies over the URL without its query string")
    assert check["expected_message"] == f"GET\n{QUERY_PATH}\n{ts}\n{nonce}\n\n"


def v2_body(merchant: Merchant, key: str | None = None, **fields: str) -> tuple[bytes, dict[str, str]]:
    params = {
        "appid": APPID,
        "mch_id": merchant.mchid,
        "nonce_str": secrets.token_hex(8),
        "out_trade_no": "JOURNALV2001",
        **fields,
    }
    sign_type = params.get("sign_type", v2_sign.MD5)
    params["sign"] = v2_sign.sign(params, key or merchant.api_key, sign_type)
    return wire.render(params), params


def test_a_bad_v2_sign(emu: Harness) -> None:
    body, params = v2_body(emu.merchant, key="0" * 32)
    response = emu.request("POST", "/pay/orderquery", content=body)
    assert "<return_code><![CDATA[FAIL]]></return_code>" in response.text
    entry = emu.newest()
    assert entry["family"] == "v2" and entry["mchid"] == MCHID and entry["code"] == "SIGNERROR"
    check = entry["sign_check"]
    assert check["ok"] is False and check["reason"] == "sign does not match (MD5 with the API key)"
    expected = "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "sign") + "&key=***"
    assert check["expected_message"] == expected
    assert emu.merchant.api_key not in str(entry)
    assert "<sign>***</sign>" in entry["request"]["body"] and params["sign"] not in str(entry)


def test_v2_sign_type_mismatch_and_sandbox_key(emu: Harness) -> None:
    _, params = v2_body(emu.merchant, sign_type="HMAC-SHA256")
    params["sign"] = v2_sign.sign(params, emu.merchant.api_key, v2_sign.MD5)  # says HMAC, signs MD5
    emu.request("POST", "/pay/orderquery", content=wire.render(params))
    check = emu.newest()["sign_check"]
    assert check["reason"] == "sign_type mismatch: the sign is MD5 but sign_type is HMAC-SHA256"
    body, _ = v2_body(emu.merchant)  # the API key, on the simulation system
    emu.request("POST", "/sandboxnew/pay/orderquery", content=body)
    check = emu.newest()["sign_check"]
    assert check["reason"].startswith(
        "wrong key: signed with the API key; this path verifies with the sandbox"
    )


def test_getsignkey_is_checked_and_its_key_masked(emu: Harness) -> None:
    params = {"mch_id": MCHID, "nonce_str": "abc123"}
    params["sign"] = v2_sign.sign(params, emu.merchant.api_key)
    response = emu.request("POST", "/sandboxnew/pay/getsignkey", content=wire.render(params))
    sandbox_key = v2_sign.sandbox_key(emu.merchant.api_key)
    assert sandbox_key in response.text
    entry = emu.newest()
    assert entry["sign_check"]["ok"] is True
    assert entry["sign_check"]["expected_message"] == f"mch_id={MCHID}&nonce_str=abc123&key=***"
    assert sandbox_key not in str(entry)
    assert "<sandbox_signkey>***</sandbox_signkey>" in entry["response"]["body"]


def test_secrets_in_queries_and_answers_are_masked(emu: Harness) -> None:
    info = emu.request("GET", f"/emulator/v1/merchants/{MCHID}").json()
    app = info["apps"][0]
    token = emu.request("GET", "/cgi-bin/token", params={"grant_type": "client_credential", **app})
    access_token = token.json()["access_token"]
    entry = emu.newest()
    assert entry["family"] == "miniprogram" and entry["code"] is None
    assert app["secret"] not in str(entry) and access_token not in str(entry)
    assert "secret=***" in entry["query"] and '"access_token":"***"' in entry["response"]["body"]
    emu.request("GET", "/wxa/getpaidunionid", params={"access_token": access_token, "openid": "o1"})
    entry = emu.newest()
    assert access_token not in str(entry) and "access_token=***" in entry["query"]
    assert entry["code"] is not None  # an errcode answer


def test_mask_text_covers_every_form() -> None:
    pem = "-----BEGIN PRIVATE KEY-----\nMIIEv\n-----END PRIVATE KEY-----"
    text = (
        '{"paySign":"abc","nested":{"apiv3_key":"k\\"q"},"ok":"x"} <sign><![CDATA[S]]></sign> '
        f"a=1&api_key=K&b=2 {pem}"
    )
    masked = mask_text(text)
    assert masked == (
        '{"paySign":"***","nested":{"apiv3_key":"***"},"ok":"x"} <sign>***</sign> '
        "a=1&api_key=***&b=2 -----BEGIN PRIVATE KEY-----***-----END PRIVATE KEY-----"
    )


def test_bodies_are_bounded(emu: Harness) -> None:
    big = b'{"description":"' + b"x" * 40_000 + b'"}'
    emu.v3("POST", "/v3/pay/transactions/jsapi", big)
    entry = emu.newest()
    assert entry["request"]["body"].endswith(f"…[{len(big) - 16 * 1024} more bytes]")
    assert len(entry["sign_check"]["expected_message"]) < 17 * 1024


def test_control_plane_calls_are_not_journalled(emu: Harness) -> None:
    emu.request("GET", "/emulator/v1/orders")
    emu.request("GET", "/emulator/v1/health")
    assert emu.entries()["data"] == []


def test_filters(emu: Harness) -> None:
    emu.v3("GET", QUERY_PATH)
    body, _ = v2_body(emu.merchant)
    emu.request("POST", "/pay/orderquery", content=body)
    token_query = {"grant_type": "client_credential", "appid": "wx0", "secret": "s"}
    emu.request("GET", "/cgi-bin/token", params=token_query)
    assert [e["family"] for e in emu.entries()["data"]] == ["miniprogram", "v2", "v3"]
    assert [e["family"] for e in emu.entries(family="v2")["data"]] == ["v2"]
    assert [e["family"] for e in emu.entries(status="4xx")["data"]] == ["v3"]
    assert [e["family"] for e in emu.entries(status="200")["data"]] == ["miniprogram", "v2"]
    assert [e["family"] for e in emu.entries(mchid=MCHID)["data"]] == ["v2", "v3"]
    bad = emu.request("GET", "/emulator/v1/requests", params={"status": "teapot"})
    assert bad.status_code == 400 and bad.json()["code"] == "PARAM_ERROR"
    bad = emu.request("GET", "/emulator/v1/requests", params={"family": "v4"})
    assert bad.status_code == 400
    bad = emu.request("GET", "/emulator/v1/requests", params={"cursor": "x"})
    assert bad.status_code == 400
    one = emu.entries(limit=1)["data"][0]
    assert emu.request("GET", f"/emulator/v1/requests/{one['id']}").json() == one
    assert emu.request("GET", "/emulator/v1/requests/999999").status_code == 404


def test_cursor_pages_are_stable(emu: Harness) -> None:
    for _ in range(7):
        emu.v3("GET", QUERY_PATH)
    first = emu.entries(limit=3)
    ids = [e["id"] for e in first["data"]]
    assert first["next"] == str(ids[-1])
    for _ in range(2):  # newer calls do not shift the pages already being read
        emu.v3("GET", QUERY_PATH)
    cursor = first["next"]
    while cursor is not None:
        page = emu.entries(limit=3, cursor=cursor)
        ids += [e["id"] for e in page["data"]]
        cursor = page["next"]
    assert len(ids) == 7 and ids == sorted(ids, reverse=True) and len(set(ids)) == 7


def test_retention_trims_the_oldest(tmp_path: Path, database_url: str | None) -> None:
    for emu in make_harness(tmp_path, journal_max_entries=5, database_url=database_url):
        for _ in range(8):
            emu.v3("GET", QUERY_PATH)
        data = emu.entries(limit=100)["data"]
        assert len(data) == 5
        ids = [e["id"] for e in data]
        assert ids == list(range(ids[0], ids[0] - 5, -1))
        assert min(ids) > 3  # the three oldest are gone


def test_reset_empties_the_journal_and_ids_go_on(emu: Harness) -> None:
    emu.v3("GET", QUERY_PATH)
    before = emu.newest()["id"]
    emu.request("POST", "/emulator/v1/reset")
    assert emu.entries()["data"] == []
    emu.v3("GET", QUERY_PATH)
    assert emu.newest()["id"] > before


def test_reset_forgets_the_calls_the_writer_has_not_stored_yet(emu: Harness) -> None:
    # The writer lingers (journal/writer.py) before it stores a call: a reset right after the call
    # must forget it too, not see it stored after the table was emptied.
    for _ in range(3):
        emu.v3("GET", QUERY_PATH)
        assert emu.request("POST", "/emulator/v1/reset").status_code == 200
        assert emu.entries()["data"] == []


def test_a_reset_through_another_process_forgets_this_ones_waiting_calls(
    tmp_path: Path, database_url: str | None
) -> None:
    # Two apps on one store stand for two processes (serve --workers 2): a reset through one must forget
    # the calls the other answered just before it, which its writer has not stored yet (it lingers).
    for one in make_harness(tmp_path, database_url=database_url):
        for other in make_harness(tmp_path, database_url=database_url):
            for _ in range(3):
                one.v3("GET", QUERY_PATH)
                assert other.request("POST", "/emulator/v1/reset").status_code == 200
                assert one.entries()["data"] == [] and other.entries()["data"] == []
            one.v3("GET", QUERY_PATH)  # a call after the reset is kept
            assert [e["path"] for e in one.entries()["data"]] == [QUERY_PATH.split("?")[0]]


def test_events_since_a_cursor(emu: Harness) -> None:
    start = emu.journal.event_cursor()
    emu.v3("GET", QUERY_PATH)
    body, _ = v2_body(emu.merchant)
    emu.request("POST", "/pay/orderquery", content=body)
    emu.journal.flush()
    feed = emu.journal.event_feed(start)
    events = feed.poll()
    cursor = feed.cursor
    assert [(kind, data["family"]) for kind, data, _ in events] == [("request", "v3"), ("request", "v2")]
    assert cursor == EventCursor(events[-1][1]["id"], start.attempt_id)
    only_v2 = emu.journal.event_feed(start, family="v2").poll()
    assert [data["family"] for _, data, _ in only_v2] == ["v2"]
    assert feed.poll() == [] and feed.cursor == cursor
    again = emu.journal.event_feed(cursor)
    assert again.poll() == [] and again.cursor == cursor
    assert EventCursor.parse(str(cursor)) == cursor


def test_the_event_stream_carries_calls_and_ends_when_the_client_goes_away(emu: Harness) -> None:
    """Raw ASGI: the stream sends a ``request`` event for a call made while it is open, and the app
    returns (the generator ends) once the client disconnects."""
    nonce = "STREAM0001"
    ts = str(int(time.time()))
    message = rsa_sign.request_message("GET", QUERY_PATH, ts, nonce, b"")
    auth = (
        f'{rsa_sign.AUTH_SCHEME} mchid="{MCHID}",nonce_str="{nonce}",'
        f'signature="{rsa_sign.sign(emu.merchant.merchant_key_pem, message)}",'
        f'timestamp="{ts}",serial_no="{emu.merchant.serial_no}"'
    )

    async def go() -> list[dict[str, Any]]:
        sent: list[dict[str, Any]] = []
        opened, got_event, gone = asyncio.Event(), asyncio.Event(), asyncio.Event()

        async def receive() -> dict[str, Any]:
            await gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)
            body = message.get("body", b"")
            if message["type"] == "http.response.body" and body:
                opened.set()
                if b"event: request" in body:
                    got_event.set()

        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/emulator/v1/events",
            "raw_path": b"/emulator/v1/events",
            "query_string": b"family=v3",
            "headers": [],
            "server": ("127.0.0.1", 80),
            "client": ("127.0.0.1", 50000),
            "root_path": "",
        }
        stream = asyncio.create_task(emu.app(scope, receive, send))
        await asyncio.wait_for(opened.wait(), timeout=10)
        transport = httpx.ASGITransport(app=emu.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://emulator.test") as client:
            await client.get(QUERY_PATH, headers={"Authorization": auth})
        await asyncio.wait_for(got_event.wait(), timeout=10)
        gone.set()
        await asyncio.wait_for(stream, timeout=10)  # the generator ended
        return sent

    sent = asyncio.run(go())
    start = sent[0]
    assert (
        start["status"] == 200 and (b"content-type", b"text/event-stream; charset=utf-8") in start["headers"]
    )
    text = b"".join(m.get("body", b"") for m in sent[1:]).decode()
    event = next(block for block in text.split("\n\n") if "event: request" in block)
    lines = dict(line.split(": ", 1) for line in event.splitlines())
    data = json.loads(lines["data"])
    assert data["path"] == QUERY_PATH.split("?")[0] and data["sign_check"]["ok"] is True
    assert lines["id"] == f"{data['id']}:{lines['id'].split(':')[1]}"


def test_a_secret_cut_by_the_body_bound_is_masked_to_the_end() -> None:
    from wxpay_emulator.journal.entries import MAX_BODY_BYTES, body_text

    pad = "x" * (MAX_BODY_BYTES - 24)
    for tail in (
        '"api_key":"SECRETSECRETSECRETSECRETSECRET"',
        "<sign>ABCDEFABCDEFABCDEFABCDEFABCDEF</sign>",
        "&sign=ABCDEFABCDEFABCDEFABCDEFABCDEF",
    ):
        whole = (pad + tail).encode()
        kept = body_text(whole[:MAX_BODY_BYTES], len(whole))
        assert "ABCDEF" not in kept and "SECRET" not in kept, kept[-80:]
        assert "***" in kept


def test_the_signed_string_in_sign_check_is_masked_like_the_body() -> None:
    from wxpay_emulator.journal.entries import _masked_check

    check = {"ok": False, "expected_message": 'POST\n/v3/x\n1\nn\n{"api_key":"zzz","a":1}\n'}
    assert _masked_check(check)["expected_message"] == 'POST\n/v3/x\n1\nn\n{"api_key":"***","a":1}\n'

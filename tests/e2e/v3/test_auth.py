"""APIv3 request authentication and response signing, with hand-built requests (DESIGN.md §2)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREPAY = "/v3/pay/transactions/native"


@pytest.fixture(params=["pubkey", "cert"])
def merchant(request: pytest.FixtureRequest, merchants: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return merchants[request.param]


@pytest.fixture
def api(v3api: Any, merchant: dict[str, Any]) -> Any:
    return v3api(merchant)


def native_body(api: Any, out_trade_no: str, **overrides: Any) -> dict[str, Any]:
    return api.prepay_body(out_trade_no, "https://merchant.example/notify", payer=None, **overrides)


def assert_sign_error(response: Any) -> dict[str, Any]:
    assert response.status_code == 401, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == "SIGN_ERROR", body
    assert body["message"]
    return body


def test_a_correctly_signed_request_is_accepted(api: Any, emu: Any, trade_no: Any) -> None:
    out_trade_no = trade_no()
    response = api.request("POST", PREPAY, native_body(api, out_trade_no))
    assert response.status_code == 200, response.text
    assert response.json()["code_url"].startswith("weixin://wxpay/bizpayurl?pr=wx")
    api.assert_signed(response)
    assert len(emu.orders_with(out_trade_no)) == 1


def test_body_tampered_after_signing(api: Any, emu: Any, trade_no: Any) -> None:
    out_trade_no = trade_no()
    signed = json.dumps(native_body(api, out_trade_no)).encode()
    sent = signed.replace(b'"total": 100', b'"total": 1')
    assert sent != signed
    timestamp, nonce = int(time.time()), "NONCE1234567890ABCDEF"
    response = api.request("POST", PREPAY, signed, sent_body=sent, timestamp=timestamp, nonce=nonce)
    body = assert_sign_error(response)
    info = body["detail"]["sign_information"]
    expected = f"POST\n{PREPAY}\n{timestamp}\n{nonce}\n".encode() + sent + b"\n"
    assert info["method"] == "POST"
    assert info["url"] == PREPAY
    assert info["sign_message_length"] == len(expected)
    assert info["truncated_sign_message"] == expected.decode()
    assert emu.orders_with(out_trade_no) == []


def test_wrong_serial_no(api: Any, merchants: dict[str, dict[str, Any]], emu: Any, trade_no: Any) -> None:
    other = next(m for m in merchants.values() if m["mchid"] != api.merchant["mchid"])
    out_trade_no = trade_no()
    for serial in (other["serial_no"], "0123456789ABCDEF", "not-hex"):
        assert_sign_error(api.request("POST", PREPAY, native_body(api, out_trade_no), serial_no=serial))
    assert emu.orders_with(out_trade_no) == []


def test_signed_with_another_merchants_key(api: Any, merchants: dict[str, dict[str, Any]], emu: Any) -> None:
    other = next(m for m in merchants.values() if m["mchid"] != api.merchant["mchid"])
    key = serialization.load_pem_private_key(other["apiclient_key.pem"].encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    path = f"/v3/pay/transactions/out-trade-no/ANY000001?mchid={api.merchant['mchid']}"
    assert_sign_error(api.request("GET", path, key=key))


@pytest.mark.parametrize("skew", [-600, 600, -302, 302])  # 302: a second may tick between client and server
def test_timestamp_too_far_from_now(api: Any, skew: int) -> None:
    path = f"/v3/pay/transactions/out-trade-no/ANY000001?mchid={api.merchant['mchid']}"
    assert_sign_error(api.request("GET", path, timestamp=int(time.time()) + skew))


@pytest.mark.parametrize("skew", [-240, 240])
def test_timestamp_within_five_minutes_is_accepted(api: Any, skew: int) -> None:
    path = f"/v3/pay/transactions/out-trade-no/ANY000001?mchid={api.merchant['mchid']}"
    response = api.request("GET", path, timestamp=int(time.time()) + skew)
    assert response.status_code == 404 and response.json()["code"] == "ORDER_NOT_EXIST", response.text


def test_unknown_mchid(api: Any, emu: Any, trade_no: Any) -> None:
    out_trade_no = trade_no()
    response = api.request("POST", PREPAY, native_body(api, out_trade_no), mchid="1999999999")
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "MCH_NOT_EXISTS"
    assert body["detail"]["field"] == "mchid" and body["detail"]["value"] == "1999999999"
    assert emu.orders_with(out_trade_no) == []


def test_lower_case_serial_no_is_accepted(api: Any, emu: Any, trade_no: Any) -> None:
    """wechatpay-node-v3 derives the serial from the certificate in lower case."""
    assert api.merchant["serial_no"] != api.merchant["serial_no"].lower()
    out_trade_no = trade_no()
    body = native_body(api, out_trade_no)
    response = api.request("POST", PREPAY, body, serial_no=api.merchant["serial_no"].lower())
    assert response.status_code == 200, response.text
    api.assert_signed(response)
    assert len(emu.orders_with(out_trade_no)) == 1


def test_fields_in_any_order_and_a_ten_character_nonce(api: Any) -> None:
    path = f"/v3/pay/transactions/out-trade-no/ANY000001?mchid={api.merchant['mchid']}"
    order = ("serial_no", "timestamp", "signature", "nonce_str", "mchid")
    response = api.request("GET", path, nonce="A1B2C3D4E5", field_order=order)
    assert response.status_code == 404 and response.json()["code"] == "ORDER_NOT_EXIST", response.text


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        'WECHATPAY2-SHA256-RSA2048 mchid="1900000001"',
        "WECHATPAY2-SHA256-RSA2048 garbage",
        'Bearer mchid="1900000001",nonce_str="x",signature="x",timestamp="1",serial_no="1"',
    ],
)
def test_missing_or_malformed_authorization(api: Any, emu: Any, authorization: str | None) -> None:
    headers = {"Accept": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    path = f"/v3/pay/transactions/out-trade-no/ANY000001?mchid={api.merchant['mchid']}"
    assert_sign_error(api.http.get(emu.url + path, headers=headers))


def test_signature_covers_the_query_string(api: Any, emu: Any) -> None:
    bare = "/v3/pay/transactions/out-trade-no/ANY000001"
    full = f"{bare}?mchid={api.merchant['mchid']}"
    auth = api.authorization("GET", bare, b"")
    response = api.http.get(emu.url + full, headers={"Authorization": auth, "Accept": "application/json"})
    body = assert_sign_error(response)
    assert body["detail"]["sign_information"]["url"] == full
    assert api.request("GET", full).status_code == 404


def test_every_2xx_answer_is_signed(api: Any, emu: Any, trade_no: Any) -> None:
    """Prepay (200), query by out_trade_no and by transaction_id (200), close (204, empty body)."""
    mchid = api.merchant["mchid"]
    paid_no, closed_no = trade_no("SIGNED"), trade_no("SIGNED")
    for out_trade_no in (paid_no, closed_no):
        placed = api.request("POST", PREPAY, native_body(api, out_trade_no))
        assert placed.status_code == 200, placed.text
        api.assert_signed(placed)

    assert emu.pay(mchid=mchid, out_trade_no=paid_no).status_code == 200
    queried = api.request("GET", f"/v3/pay/transactions/out-trade-no/{paid_no}?mchid={mchid}")
    assert queried.status_code == 200 and queried.json()["trade_state"] == "SUCCESS"
    api.assert_signed(queried)
    transaction_id = queried.json()["transaction_id"]
    by_id = api.request("GET", f"/v3/pay/transactions/id/{transaction_id}?mchid={mchid}")
    assert by_id.status_code == 200 and by_id.json() == queried.json()
    api.assert_signed(by_id)

    closed = api.request("POST", f"/v3/pay/transactions/out-trade-no/{closed_no}/close", {"mchid": mchid})
    assert closed.status_code == 204 and closed.content == b""
    api.assert_signed(closed)


def test_answers_keep_the_real_clock_when_the_business_clock_moves(api: Any, emu: Any, trade_no: Any) -> None:
    """DESIGN.md §3: protocol timestamps follow the real clock even after /emulator/v1/clock."""
    moved = emu.control("POST", "/clock", json={"advance_seconds": 3 * 86400})
    assert moved.status_code == 200 and moved.json()["offset_seconds"] == 3 * 86400
    response = api.request("POST", PREPAY, native_body(api, trade_no()))
    assert response.status_code == 200, response.text
    api.assert_signed(response)  # checks Wechatpay-Timestamp within 300 s of the real clock
    assert abs(int(response.headers["Wechatpay-Timestamp"]) - time.time()) < 60


def test_platform_certificates(api: Any) -> None:
    """GET /v3/certificates: the platform certificate, encrypted with the APIv3 key, signed with it."""
    m = api.merchant
    response = api.request("GET", "/v3/certificates")
    assert response.status_code == 200, response.text
    [entry] = response.json()["data"]
    assert entry["serial_no"] == m["platform_serial"] == response.headers["Wechatpay-Serial"]
    cert = x509.load_pem_x509_certificate(m["wechatpay_cert.pem"].encode())
    # signed with the platform certificate in both modes, so that an SDK can bootstrap from it
    assert m["platform_serial"] == format(cert.serial_number, "040X")  # 40 digits, a leading 0 kept
    api.assert_signed(response, key_mode="cert")

    encrypted = entry["encrypt_certificate"]
    assert encrypted["algorithm"] == "AEAD_AES_256_GCM"
    assert encrypted["associated_data"] == "certificate" and len(encrypted["nonce"]) == 12
    plain = AESGCM(m["apiv3_key"].encode()).decrypt(
        encrypted["nonce"].encode(), base64.b64decode(encrypted["ciphertext"]), b"certificate"
    )
    assert plain.decode() == m["wechatpay_cert.pem"]
    effective = dt.datetime.fromisoformat(entry["effective_time"])
    expire = dt.datetime.fromisoformat(entry["expire_time"])
    assert effective == cert.not_valid_before_utc and expire == cert.not_valid_after_utc
    assert effective < dt.datetime.now(dt.UTC) < expire

"""Hand-signed APIv3 requests and verification of the platform's signatures; orders placed (and paid)
through wechatpayv3."""

import base64
import json
import secrets
import time
from functools import lru_cache
from typing import Any

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from wechatpayv3 import WeChatPay, WeChatPayType

from tests.support.common import AUTH_SCHEME, OPENID
from tests.support.emulator import Emu


@lru_cache(maxsize=64)
def _load_private_key(pem: str) -> rsa.RSAPrivateKey:
    """Parsed once per key: loading checks the key, which costs about 60 ms."""
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


# --- orders through wechatpayv3 ------------------------------------------------------------------------

PAY_TYPES = {
    "JSAPI": WeChatPayType.JSAPI,
    "APP": WeChatPayType.APP,
    "H5": WeChatPayType.H5,
    "NATIVE": WeChatPayType.NATIVE,
}
H5_SCENE = {"payer_client_ip": "127.0.0.1", "h5_info": {"type": "Wap"}}


def sdk_json(result: tuple[int, Any]) -> tuple[int, dict[str, Any]]:
    """wechatpayv3's (status, text) with the text read as JSON ({} when empty)."""
    code, text = result
    return code, json.loads(text) if text else {}


def place(
    wxpay: WeChatPay, kind: str, out_trade_no: str, total: int = 101, **extra: Any
) -> tuple[int, dict[str, Any]]:
    """wechatpayv3's pay for ``kind`` (JSAPI, APP, H5, NATIVE): JSAPI with the tests' openid, H5 with a
    Wap scene_info, unless ``extra`` says otherwise."""
    if kind == "JSAPI":
        extra.setdefault("payer", {"openid": OPENID})
    if kind == "H5":
        extra.setdefault("scene_info", H5_SCENE)
    extra.setdefault("description", "Image形象店-深圳腾大-QQ公仔")
    return sdk_json(
        wxpay.pay(out_trade_no=out_trade_no, amount={"total": total}, pay_type=PAY_TYPES[kind], **extra)
    )


def paid_order(
    wxpay: WeChatPay, emu: Emu, mchid: str, out_trade_no: str, total: int = 100, **extra: Any
) -> dict[str, Any]:
    """A NATIVE order placed through wechatpayv3 and paid by the simulated payer: its transaction JSON."""
    code, placed = place(wxpay, "NATIVE", out_trade_no, total, **extra)
    assert code == 200, placed
    paid = emu.pay(mchid=mchid, out_trade_no=out_trade_no)
    assert paid.status_code == 200, paid.text
    transaction: dict[str, Any] = paid.json()
    return transaction

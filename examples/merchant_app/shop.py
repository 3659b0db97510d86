"""A small merchant app: it sells with wechatpayv3 and takes WeChat Pay's payment notifications.

``POST /wxpay/notify`` is a notification handler done right (WeChat Pay APIv3 "支付通知"):

1. the ``Wechatpay-Serial`` must name the platform certificate / public key the merchant holds;
2. the ``Wechatpay-Timestamp`` must be within 5 minutes of our clock (replay protection);
3. ``Wechatpay-Signature`` must verify over ``timestamp\\nnonce\\nbody\\n`` with that key (RSA-SHA256);
4. ``resource`` is decrypted with AEAD_AES_256_GCM under the APIv3 key, its nonce and its
   ``associated_data``; a tag that does not verify refuses the notification;
5. a notification already processed is acknowledged again without being processed twice.

Only then does it mark the order paid and answer 204 (WeChat: 200 or 204 acknowledges; anything else
makes WeChat retry).

``POST /naive/notify`` is the handler that must never ship: it believes any JSON it is sent (anyone can
mark an order paid with one forged POST). The audit (``wxpay-emulator audit notify``) fails it.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

MAX_SKEW_SECONDS = 300


@dataclass(frozen=True)
class WeChatPayConfig:
    mchid: str
    apiv3_key: str
    wechatpay_serial: str  # the platform certificate's serial, or the public key's PUB_KEY_ID_...
    wechatpay_public_pem: str  # the platform certificate (cert mode) or WeChat Pay public key (PEM)


@dataclass
class Orders:
    """The shop's own order book (in memory for the example)."""

    paid: dict[str, dict[str, Any]] = field(default_factory=dict)  # out_trade_no -> transaction
    processed: set[str] = field(default_factory=set)  # notification ids already handled
    times_processed: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _public_key(pem: str) -> rsa.RSAPublicKey:
    data = pem.encode()
    if b"BEGIN CERTIFICATE" in data:
        key = x509.load_pem_x509_certificate(data).public_key()
    else:
        key = serialization.load_pem_public_key(data)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("WeChat Pay signs with RSA")
    return key


def _refuse(status: int, message: str) -> Response:
    return JSONResponse({"code": "FAIL", "message": message}, status_code=status)


def create_app(config: WeChatPayConfig, orders: Orders | None = None) -> FastAPI:
    app = FastAPI()
    book = orders if orders is not None else Orders()
    app.state.orders = book
    public_key = _public_key(config.wechatpay_public_pem)
    cipher = AESGCM(config.apiv3_key.encode())

    @app.post("/wxpay/notify")
    async def notify(request: Request) -> Response:
        body = await request.body()
        timestamp = request.headers.get("Wechatpay-Timestamp", "")
        nonce = request.headers.get("Wechatpay-Nonce", "")
        signature = request.headers.get("Wechatpay-Signature", "")
        serial = request.headers.get("Wechatpay-Serial", "")
        if serial.upper() != config.wechatpay_serial.upper():
            return _refuse(401, "unknown Wechatpay-Serial")
        try:
            age = abs(time.time() - int(timestamp))
        except ValueError:
            return _refuse(401, "bad Wechatpay-Timestamp")
        if age > MAX_SKEW_SECONDS:
            return _refuse(401, "stale Wechatpay-Timestamp")
        message = f"{timestamp}\n{nonce}\n".encode() + body + b"\n"
        try:
            public_key.verify(base64.b64decode(signature, validate=True), message, padding.PKCS1v15(),
                              hashes.SHA256())  # fmt: skip
        except (InvalidSignature, binascii.Error, ValueError):
            return _refuse(401, "signature does not verify")
        try:
            notice = json.loads(body)
            resource = notice["resource"]
            plaintext = cipher.decrypt(
                resource["nonce"].encode(),
                base64.b64decode(resource["ciphertext"]),
                resource.get("associated_data", "").encode(),
            )
            transaction = json.loads(plaintext)
        except (InvalidTag, KeyError, TypeError, ValueError):
            return _refuse(400, "resource does not decrypt")
        if transaction.get("mchid", transaction.get("sp_mchid")) != config.mchid:
            return _refuse(400, "not our merchant")
        with book.lock:
            if notice["id"] not in book.processed:  # a duplicate is acknowledged, not processed again
                book.processed.add(notice["id"])
                if notice.get("event_type") == "TRANSACTION.SUCCESS":
                    out_trade_no = transaction["out_trade_no"]
                    book.paid[out_trade_no] = transaction
                    book.times_processed[out_trade_no] = book.times_processed.get(out_trade_no, 0) + 1
        return Response(status_code=204)

    @app.post("/naive/notify")
    async def naive_notify(request: Request) -> Response:
        # DON'T: no serial, timestamp or signature check, and the resource is not authenticated.
        notice = json.loads(await request.body())
        book.paid[notice.get("id", "?")] = notice
        return JSONResponse({"code": "SUCCESS", "message": "成功"})

    @app.get("/orders/{out_trade_no}")
    async def order(out_trade_no: str) -> Response:
        found = book.paid.get(out_trade_no)
        if found is None:
            return JSONResponse({"paid": False}, status_code=404)
        return JSONResponse({"paid": True, "transaction": found})

    return app

"""The emulator in process behind httpx.ASGITransport, with callers that sign as each family's SDK does
(APIv3 RSA, APIv2 MD5); used by the property test of the stored extras and by the fuzz campaign."""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import Any

import httpx

from wxpay_emulator.app import create_app
from wxpay_emulator.config import Settings
from wxpay_emulator.crypto import rsa_sign, v2_sign
from wxpay_emulator.domain.models import KeyMode, Merchant

OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
BASE = "http://127.0.0.1"


def make_app(data_dir: Path) -> Any:
    return create_app(Settings(data_dir=data_dir))


def client(app: Any) -> httpx.AsyncClient:
    # raise_app_exceptions=False: an unexpected error is answered (500) as the server would answer it.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url=BASE, timeout=30)


def new_merchant(app: Any, *, sp_mchid: str | None = None, appids: tuple[str, ...] = ()) -> Merchant:
    merchant: Merchant = app.state.domain.merchants.create(None, None, KeyMode.PUBKEY, appids, sp_mchid)
    return merchant


def v3_headers(merchant: Merchant, method: str, path: str, body: bytes) -> dict[str, str]:
    """What wechatpayv3 sends: the WECHATPAY2-SHA256-RSA2048 Authorization over method, path, body."""
    stamp, nonce = str(int(time.time())), secrets.token_hex(16)
    message = rsa_sign.request_message(method, path, stamp, nonce, body)
    signature = rsa_sign.sign(merchant.merchant_key_pem, message)
    auth = (
        f'WECHATPAY2-SHA256-RSA2048 mchid="{merchant.mchid}",nonce_str="{nonce}",'
        f'signature="{signature}",timestamp="{stamp}",serial_no="{merchant.serial_no}"'
    )
    return {"Authorization": auth, "Content-Type": "application/json", "Accept": "application/json"}


async def v3(
    http: httpx.AsyncClient, merchant: Merchant, method: str, path: str, payload: Any = None
) -> httpx.Response:
    body = (
        b"" if payload is None else (payload if isinstance(payload, bytes) else json.dumps(payload).encode())
    )
    return await http.request(method, path, content=body, headers=v3_headers(merchant, method, path, body))


def v2_xml(fields: dict[str, str], api_key: str, sign_type: str = v2_sign.MD5) -> bytes:
    """An APIv2 body: the fields and their sign, each in CDATA."""
    signed = {**fields, "sign": v2_sign.sign(fields, api_key, sign_type)}
    inner = "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in signed.items())
    return f"<xml>{inner}</xml>".encode()


async def v2(
    http: httpx.AsyncClient, merchant: Merchant, path: str, fields: dict[str, str]
) -> httpx.Response:
    base = {"appid": merchant.appid, "mch_id": merchant.mchid, "nonce_str": secrets.token_hex(8)}
    return await http.post(path, content=v2_xml({**base, **fields}, merchant.api_key))


def trade_no(prefix: str = "T") -> str:
    return f"{prefix}{secrets.token_hex(8)}"

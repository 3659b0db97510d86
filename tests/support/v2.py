"""APIv2 in end-to-end tests: orders placed (and paid) through wechatpy's v2 client."""

from __future__ import annotations

import hashlib
from typing import Any

from wechatpy.pay import WeChatPay as WeChatPayV2

from tests.support.common import DEFAULT_MCHID, OPENID, new_trade_no
from tests.support.emulator import Emu

CLIENT_IP = "127.0.0.1"
APPID = "wxd678efh567hg6787"  # the default merchant's appid


def v2_md5(fields: dict[str, Any], key: str) -> str:
    """The v2 MD5 sign, computed here independently of the emulator's code (as merchants' SDKs do):
    sorted non-empty fields but ``sign`` (nested objects left out), ``&key=``, upper-case hex."""
    pairs = sorted(
        (k, str(v)) for k, v in fields.items() if k != "sign" and v != "" and not isinstance(v, dict | list)
    )
    text = "&".join(f"{k}={v}" for k, v in pairs) + f"&key={key}"
    return hashlib.md5(text.encode()).hexdigest().upper()


def order_fields(**overrides: str) -> dict[str, str]:
    """The fields of an APIv2 APP unifiedorder of the default merchant (unsigned), with ``overrides``."""
    fields = {
        "appid": APPID,
        "mch_id": DEFAULT_MCHID,
        "nonce_str": "n0nce",
        "body": "商品",
        "out_trade_no": new_trade_no("H"),
        "total_fee": "100",
        "spbill_create_ip": CLIENT_IP,
        "notify_url": "http://127.0.0.1:9/n",
        "trade_type": "APP",
    }
    fields.update(overrides)
    return fields


def paid_order(client: WeChatPayV2, emu: Emu, total: int = 100) -> str:
    """A JSAPI order placed through wechatpy and paid by the simulated payer: its out_trade_no."""
    out_trade_no = new_trade_no("RF")
    client.order.create(
        "JSAPI",
        "退款测试",
        total,
        "http://127.0.0.1:9/n",
        client_ip=CLIENT_IP,
        user_id=OPENID,
        out_trade_no=out_trade_no,
    )
    assert emu.pay(mchid=client.mch_id, out_trade_no=out_trade_no).status_code == 200
    return out_trade_no

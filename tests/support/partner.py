"""The partner API (服务商, seed 002) in end-to-end tests: parties, hand-signed and SDK orders, faults."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from wechatpayv3 import WeChatPay, WeChatPayType

from tests.support.common import OPENID
from tests.support.emulator import Emu
from tests.support.v3 import V3Api, sdk_json

MakeApi = Callable[[dict[str, Any]], V3Api]

MODES = ["pubkey", "cert"]
NOTIFY_URL = "https://merchant.example/wxpay/partner-notify"
PARTNER = "/v3/pay/partner/transactions"
H5_SCENE = {"payer_client_ip": "127.0.0.1", "h5_info": {"type": "Wap"}}
DEVICE_ID = "013467007045764"
# Seed 002's error table, copied from the seed (not from the emulator's source): code -> HTTP status.
SEED_002_ERRORS: dict[str, int] = {
    "USERPAYING": 202,
    "TRADE_ERROR": 403,
    "SYSTEM_ERROR": 500,
    "SIGN_ERROR": 401,
    "RULE_LIMIT": 403,
    "PARAM_ERROR": 400,
    "OUT_TRADE_NO_USED": 403,
    "ORDER_NOT_EXIST": 404,
    "ORDER_CLOSED": 400,
    "OPENID_MISMATCH": 500,
    "NOT_ENOUGH": 403,
    "NO_AUTH": 403,
    "MCH_NOT_EXISTS": 400,
    "INVALID_TRANSACTIONID": 500,
    "INVALID_REQUEST": 400,
    "FREQUENCY_LIMITED": 429,
    "BANK_ERROR": 500,
    "APPID_MCHID_NOT_MATCH": 400,
    "ACCOUNT_ERROR": 403,
}
# Rows a merchant's own input produces (each has a test below that does so) ...
BY_INPUT = {
    "SIGN_ERROR",
    "PARAM_ERROR",
    "OUT_TRADE_NO_USED",
    "ORDER_NOT_EXIST",
    "ORDER_CLOSED",
    "NO_AUTH",
    "MCH_NOT_EXISTS",
    "INVALID_TRANSACTIONID",
    "INVALID_REQUEST",
    "APPID_MCHID_NOT_MATCH",
}
# ... and the rest, which come from WeChat's side: armed through the faults control.
BY_FAULT = sorted(set(SEED_002_ERRORS) - BY_INPUT)


@dataclass(frozen=True)
class Partner:
    """A provider, its sub-merchant, and an extra appid bound to the sub-merchant (a valid sub_appid)."""

    provider: dict[str, Any]
    sub: dict[str, Any]
    sub_appid: str


@dataclass(frozen=True)
class Parties:
    pubkey: Partner
    cert: Partner
    sibling: dict[str, Any]  # a second sub-merchant of the public-key provider
    stranger: Partner  # another provider and its own sub-merchant: bound to neither of the above

    def of(self, mode: str) -> Partner:
        return self.pubkey if mode == "pubkey" else self.cert


def make_parties(emulator_process: Any, merchants: dict[str, dict[str, Any]]) -> Parties:
    """Both providers (the module's two merchants) with a sub-merchant each, a sibling and a stranger."""

    def partner(provider: dict[str, Any]) -> Partner:
        extra = "wxsub" + secrets.token_hex(6)
        sub = emulator_process.create_merchant(sp_mchid=provider["mchid"], appids=[extra])
        assert sub["sp_mchid"] == provider["mchid"] and sub["appids"] == [sub["appid"], extra]
        return Partner(provider, sub, extra)

    pubkey = partner(merchants["pubkey"])
    cert = partner(merchants["cert"])
    sibling = emulator_process.create_merchant(sp_mchid=merchants["pubkey"]["mchid"])
    stranger = partner(emulator_process.create_merchant())
    return Parties(pubkey, cert, sibling, stranger)


def partner_wxpay(base_url: str, provider: dict[str, Any], notify_url: str) -> WeChatPay:
    """wechatpayv3 in partner mode, signed by the provider, in the provider's key mode (DESIGN.md §3)."""
    common: dict[str, Any] = {
        "wechatpay_type": WeChatPayType.JSAPI,
        "mchid": provider["mchid"],
        "private_key": provider["apiclient_key.pem"],
        "cert_serial_no": provider["serial_no"],
        "apiv3_key": provider["apiv3_key"],
        "appid": provider["appid"],
        "notify_url": notify_url,
        "timeout": (5, 30),
        "partner_mode": True,
    }
    if provider["key_mode"] == "pubkey":
        client = WeChatPay(**common, public_key=provider["pub_key.pem"], public_key_id=provider["pub_key_id"])
    else:
        client = WeChatPay(**common, cert_dir=provider["folder"] + "/certs/")
    client._core._gate_way = base_url
    return client


def body_for(p: Partner, out_trade_no: str, kind: str = "jsapi", /, **overrides: Any) -> dict[str, Any]:
    """A valid partner prepay body for ``kind``; an override of None removes the field."""
    body: dict[str, Any] = {
        "sp_appid": p.provider["appid"],
        "sp_mchid": p.provider["mchid"],
        "sub_mchid": p.sub["mchid"],
        "description": "e2e 服务商商品",
        "out_trade_no": out_trade_no,
        "notify_url": NOTIFY_URL,
        "amount": {"total": 100, "currency": "CNY"},
    }
    if kind == "jsapi":
        body["payer"] = {"sp_openid": OPENID}
    if kind == "h5":
        body["scene_info"] = H5_SCENE
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def by_out_trade_no(out_trade_no: str, sp_mchid: str, sub_mchid: str) -> str:
    return f"{PARTNER}/out-trade-no/{out_trade_no}?sp_mchid={sp_mchid}&sub_mchid={sub_mchid}"


def by_transaction_id(transaction_id: str, sp_mchid: str, sub_mchid: str) -> str:
    return f"{PARTNER}/id/{transaction_id}?sp_mchid={sp_mchid}&sub_mchid={sub_mchid}"


def close_path(out_trade_no: str) -> str:
    return f"{PARTNER}/out-trade-no/{out_trade_no}/close"


def refused(api: V3Api, response: httpx.Response, code: str, field: str | None = None) -> dict[str, Any]:
    """The answer is seed 002's row for ``code`` (its HTTP status), a WeChat error body, and signed."""
    assert response.status_code == SEED_002_ERRORS[code], response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    if field is not None:
        assert body["detail"]["field"] == field, body
    api.assert_signed(response)
    return body


def place(api: V3Api, p: Partner, out_trade_no: str, kind: str = "jsapi", **overrides: Any) -> str:
    """Place a partner order by hand and return its prepay_id."""
    response = api.request("POST", f"{PARTNER}/{kind}", body_for(p, out_trade_no, kind, **overrides))
    assert response.status_code == 200, response.text
    api.assert_signed(response)
    prepay_id: str = response.json()["prepay_id"]
    return prepay_id


def paid_order(api: V3Api, emu: Emu, p: Partner, out_trade_no: str) -> dict[str, Any]:
    """Place and pay a partner order; return the partner query JSON the control plane answers."""
    prepay_id = place(api, p, out_trade_no)
    paid = emu.pay(prepay_id=prepay_id)
    assert paid.status_code == 200, paid.text
    transaction: dict[str, Any] = paid.json()
    assert transaction["trade_state"] == "SUCCESS"
    return transaction


def pending(emu: Emu) -> dict[str, list[str]]:
    response = emu.control("GET", "/faults")
    assert response.status_code == 200, response.text
    result: dict[str, list[str]] = response.json()["pending"]
    return result


def arm(emu: Emu, operation: str, code: str, count: int = 1) -> None:
    response = emu.control("POST", "/faults", json={"operation": operation, "code": code, "count": count})
    assert response.status_code == 201, response.text


# variant -> (pay_type, seed trade_type)
VARIANTS = {
    "JSAPI-sp_openid": (WeChatPayType.JSAPI, "JSAPI"),
    "JSAPI-sub_openid": (WeChatPayType.JSAPI, "JSAPI"),
    "APP": (WeChatPayType.APP, "APP"),
    "H5": (WeChatPayType.H5, "MWEB"),
    "NATIVE": (WeChatPayType.NATIVE, "NATIVE"),
}


def sdk_place(
    wxpay: WeChatPay, p: Partner, variant: str, out_trade_no: str, total: int = 101, **extra: Any
) -> tuple[int, dict[str, Any]]:
    """Place a partner order through wechatpayv3: sp_appid/sp_mchid from the client, sub_* per call."""
    pay_type, _ = VARIANTS[variant]
    if variant == "JSAPI-sp_openid":
        extra.setdefault("payer", {"sp_openid": OPENID})
    elif variant == "JSAPI-sub_openid":
        extra.setdefault("payer", {"sub_openid": OPENID})
        extra.setdefault("sub_appid", p.sub_appid)
    elif variant == "APP":
        extra.setdefault("sub_appid", p.sub["appid"])  # the sub-merchant's own appid is bound to it too
    elif variant == "H5":
        extra.setdefault("scene_info", H5_SCENE)
    else:
        extra.setdefault("scene_info", {"payer_client_ip": "127.0.0.1", "device_id": DEVICE_ID})
    extra.setdefault("description", "Image形象店-深圳腾大-QQ公仔")
    extra.setdefault("sub_mchid", p.sub["mchid"])
    return sdk_json(wxpay.pay(out_trade_no=out_trade_no, amount={"total": total}, pay_type=pay_type, **extra))

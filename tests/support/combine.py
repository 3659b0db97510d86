"""Combine (合单) payments, seed 004, in tests: the parties, sub-orders, hand-signed calls, the checks of
a placed and a paid combine order, and the assertions on error answers. Used by the end-to-end tests
through wechatpayv3 (tests/e2e/v3/test_combine.py) and by the in-process matrices
(tests/unit/api/v3/test_combine.py)."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import json
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import httpx
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tests.support.common import OPENID, new_trade_no
from tests.support.emulator import Emu
from tests.support.v3 import V3Api

MODES = ["pubkey", "cert"]
# kind in the path -> trade_type in the query JSON
TRADE_TYPES = {"app": "APP", "jsapi": "JSAPI", "h5": "MWEB", "native": "NATIVE"}
SCENE = {"payer_client_ip": "14.17.22.32", "device_id": "POS1:1"}
CHINA = dt.timezone(dt.timedelta(hours=8))
UNKNOWN_MCHID = "1299999999"
PREPAY_LIFETIME = 2 * 3600
NOTIFY_URL = "https://merchant.example/wxpay/combine-notify"
PATH = "/v3/combine-transactions"

# Seed 004's rows that no merchant input produces: the faults control arms them.
FAULT_ROWS = [
    ("SYSTEM_ERROR", 500),
    ("NOAUTH", 403),
    ("RULELIMIT", 403),
    ("FREQUENCY_LIMITED", 429),
    ("OPENID_MISMATCH", 500),
    ("SYSTEMERROR", 500),
]


class MakesMerchants(Protocol):
    """An emulator that makes merchants: EmulatorProcess, or InProcEmulator (tests/support/inproc.py)."""

    def create_merchant(self, **body: Any) -> dict[str, Any]: ...


def make_parties(emulator: MakesMerchants, merchants: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The other merchants a combine order involves. bound: bound to both initiators' appids; unbound:
    bound to nothing of theirs; sub_<mode>: a sub-merchant of that initiator."""
    appids = [merchants["pubkey"]["appid"], merchants["cert"]["appid"]]
    made: dict[str, Any] = {
        "bound": emulator.create_merchant(appids=appids),
        "unbound": emulator.create_merchant(),
    }
    for mode in MODES:
        made[f"sub_{mode}"] = emulator.create_merchant(sp_mchid=merchants[mode]["mchid"])
    return made


def sub_order(mchid: str, out_trade_no: str, total: int = 100, **changes: Any) -> dict[str, Any]:
    sub: dict[str, Any] = {
        "mchid": mchid,
        "attach": f"分店-{out_trade_no[-4:]}",
        "amount": {"total_amount": total, "currency": "CNY"},
        "out_trade_no": out_trade_no,
        "detail": "买单费用",
        "description": "腾讯充值中心-QQ会员充值",
        "settle_info": {"profit_sharing": False},
        "goods_tag": "WXG",
    }
    sub.update(changes)
    return sub


def two_subs(first_mchid: str, second_mchid: str) -> list[dict[str, Any]]:
    return [
        sub_order(first_mchid, new_trade_no("SUBA"), 10),
        sub_order(second_mchid, new_trade_no("SUBB"), 20),
    ]


def three_subs(initiator: dict[str, Any], parties: dict[str, Any], mode: str) -> list[dict[str, Any]]:
    """One sub-order of each kind of participant: the initiator, its sub-merchant, a bound merchant."""
    return [
        sub_order(initiator["mchid"], new_trade_no("SELF"), 101, attach="深圳分店"),
        sub_order(parties[f"sub_{mode}"]["mchid"], new_trade_no("SUBM"), 202, attach="广州分店"),
        sub_order(parties["bound"]["mchid"], new_trade_no("BOUND"), 303, attach="北京分店"),
    ]


def combine_body(initiator: dict[str, Any], subs: list[dict[str, Any]], notify_url: str) -> dict[str, Any]:
    """A valid body per seed 004, for hand-signed requests."""
    return {
        "combine_appid": initiator["appid"],
        "combine_out_trade_no": new_trade_no("CMB"),
        "combine_mchid": initiator["mchid"],
        "scene_info": dict(SCENE),
        "sub_orders": copy.deepcopy(subs),
        "combine_payer_info": {"openid": OPENID},
        "notify_url": notify_url,
    }


def as_json(text: Any) -> dict[str, Any]:
    if not text:
        return {}
    data: dict[str, Any] = json.loads(text)
    return data


# --- hand-signed calls, with the parameters wechatpayv3's combine_pay / _query / _close send ------------


def _answer(api: V3Api, response: httpx.Response) -> tuple[int, Any]:
    """(status, text of a JSON answer or the raw bytes), as wechatpayv3 returns it; every answer signed."""
    api.assert_signed(response)
    json_answer = "application/json" in response.headers.get("Content-Type", "")
    return response.status_code, response.text if json_answer else response.content


def signed_place(
    api: V3Api, kind: str, combine_out_trade_no: str, subs: list[dict[str, Any]], **extra: Any
) -> tuple[int, dict[str, Any]]:
    """combine_pay's request, hand-signed, with seed 004's example scene_info (and openid for JSAPI)."""
    extra.setdefault("scene_info", dict(SCENE))
    if kind == "jsapi":
        extra.setdefault("combine_payer_info", {"openid": OPENID})
    body: dict[str, Any] = {
        "combine_appid": extra.pop("combine_appid", None) or api.merchant["appid"],
        "combine_mchid": extra.pop("combine_mchid", None) or api.merchant["mchid"],
        "notify_url": extra.pop("notify_url", None) or NOTIFY_URL,
        "combine_out_trade_no": combine_out_trade_no,
        "sub_orders": copy.deepcopy(subs),
    }
    body.update({k: v for k, v in extra.items() if v})  # combine_pay leaves out what is empty
    code, text = _answer(api, api.request("POST", f"{PATH}/{kind}", body))
    return code, as_json(text)


def signed_query(api: V3Api, combine_out_trade_no: str) -> tuple[int, dict[str, Any]]:
    code, text = _answer(api, api.request("GET", f"{PATH}/out-trade-no/{combine_out_trade_no}"))
    return code, as_json(text)


def signed_close(
    api: V3Api, combine_out_trade_no: str, subs: list[dict[str, Any]], combine_appid: str | None = None
) -> tuple[int, Any]:
    keys = [{"mchid": s["mchid"], "out_trade_no": s["out_trade_no"]} for s in subs]
    body = {"combine_appid": combine_appid or api.merchant["appid"], "sub_orders": keys}
    return _answer(api, api.request("POST", f"{PATH}/out-trade-no/{combine_out_trade_no}/close", body))


# --- checks ------------------------------------------------------------------------------------------


def prepay_id_of(kind: str, answer: dict[str, Any]) -> str:
    if kind == "native":
        assert set(answer) == {"code_url"}, answer
        prefix = "weixin://wxpay/bizpayurl?pr="
        assert answer["code_url"].startswith(prefix)
        return str(answer["code_url"]).removeprefix(prefix)
    if kind == "h5":
        assert set(answer) == {"h5_url"}, answer
        return parse_qs(urlsplit(str(answer["h5_url"])).query)["prepay_id"][0]
    assert set(answer) == {"prepay_id"}, answer
    return str(answer["prepay_id"])


def check_unpaid(
    unpaid: dict[str, Any],
    kind: str,
    initiator: dict[str, Any],
    combine_out_trade_no: str,
    subs: list[dict[str, Any]],
) -> None:
    """The query answer of a combine order just placed with ``subs`` (seed 004's fields)."""
    assert unpaid["combine_appid"] == initiator["appid"]
    assert unpaid["combine_mchid"] == initiator["mchid"]
    assert unpaid["combine_out_trade_no"] == combine_out_trade_no
    assert unpaid["scene_info"] == {"device_id": SCENE["device_id"]}
    assert unpaid["combine_payer_info"] == ({"openid": OPENID} if kind == "jsapi" else {})
    assert [(s["mchid"], s["out_trade_no"]) for s in unpaid["sub_orders"]] == [
        (s["mchid"], s["out_trade_no"]) for s in subs
    ]
    for got, sent in zip(unpaid["sub_orders"], subs, strict=True):
        assert got == {
            "mchid": sent["mchid"],
            "trade_type": TRADE_TYPES[kind],
            "trade_state": "NOTPAY",
            "out_trade_no": sent["out_trade_no"],
            "attach": sent["attach"],
            "amount": sent["amount"],
        }


def check_paid(
    queried: dict[str, Any], unpaid: dict[str, Any], kind: str, subs: list[dict[str, Any]], emu: Emu
) -> None:
    """The query answer of the same combine order once paid: every sub-order paid, with its own
    transaction_id, by the one payer (also as each sub-order's merchant sees it)."""
    assert {k: v for k, v in queried.items() if k not in ("sub_orders", "combine_payer_info")} == {
        k: v for k, v in unpaid.items() if k not in ("sub_orders", "combine_payer_info")
    }
    payer_openid = queried["combine_payer_info"]["openid"]
    assert payer_openid == OPENID if kind == "jsapi" else payer_openid
    transaction_ids = set()
    for got, sent in zip(queried["sub_orders"], subs, strict=True):
        assert got["trade_state"] == "SUCCESS" and got["trade_type"] == TRADE_TYPES[kind]
        assert (got["mchid"], got["out_trade_no"], got["attach"]) == (
            sent["mchid"],
            sent["out_trade_no"],
            sent["attach"],
        )
        total = sent["amount"]["total_amount"]
        assert got["amount"] == {
            "total_amount": total,
            "currency": "CNY",
            "payer_amount": total,
            "payer_currency": "CNY",
        }
        assert got["transaction_id"].isdigit() and got["bank_type"] and got["success_time"]
        transaction_ids.add(got["transaction_id"])
        # The sub-order as its own merchant sees it: the one payer of the combine.
        [order] = emu.orders_with(sent["out_trade_no"])
        assert order["transaction"]["transaction_id"] == got["transaction_id"]
        assert order["transaction"]["payer"]["openid"] == payer_openid
    assert len(transaction_ids) == len(subs), "every sub-order has its own transaction_id"


def decrypt_resource(notification_body: str, apiv3_key: str) -> dict[str, Any]:
    """The resource of an APIv3 notification body: AEAD_AES_256_GCM with the merchant's APIv3 key."""
    resource = json.loads(notification_body)["resource"]
    assert resource["algorithm"] == "AEAD_AES_256_GCM", resource
    plain = AESGCM(apiv3_key.encode()).decrypt(
        resource["nonce"].encode(),
        base64.b64decode(resource["ciphertext"]),
        resource["associated_data"].encode(),
    )
    data: dict[str, Any] = json.loads(plain)
    return data


def assert_v3_error(result: tuple[int, dict[str, Any]], status: int, code: str) -> dict[str, Any]:
    got_status, body = result
    assert (got_status, body.get("code")) == (status, code), body
    assert isinstance(body.get("message"), str) and body["message"], body
    return body


def assert_response_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    return assert_v3_error((response.status_code, response.json() if response.content else {}), status, code)


def assert_control_error(response: httpx.Response, status: int, code: str) -> None:
    """The control plane's shape: {"code","message"} and nothing else."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "message"} and body["code"] == code, body


# --- the control plane ---------------------------------------------------------------------------------


def emu_now(emu: Emu) -> dt.datetime:
    response = emu.control("GET", "/clock")
    assert response.status_code == 200, response.text
    return dt.datetime.fromisoformat(response.json()["now"])


def advance(emu: Emu, seconds: float) -> None:
    response = emu.control("POST", "/clock", json={"advance_seconds": seconds})
    assert response.status_code == 200, response.text


def rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(CHINA).replace(microsecond=0).isoformat()


def arm(emu: Emu, operation: str, code: str, count: int = 1) -> None:
    response = emu.control("POST", "/faults", json={"operation": operation, "code": code, "count": count})
    assert response.status_code == 201, response.text
    assert response.json()["pending"][operation][-count:] == [code] * count

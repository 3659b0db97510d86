"""The partner payment API (服务商 / 电商平台, seed 002) end to end, against the real emulator process.

A provider (``sp_mchid``) signs every call; the order belongs to one of its sub-merchants (``sub_mchid``).
The flow goes through wechatpayv3 2.0.4 in partner mode, unmodified, with the provider in public-key and
in platform-certificate mode; the relationship rules and every row of seed 002's error table go through
hand-signed requests (V3Api), so each test controls the exact bytes. Codes no merchant input can produce
are armed through ``POST /emulator/v1/faults``.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
from wechatpayv3 import WeChatPay

from tests.support.common import OPENID
from tests.support.emulator import Emu
from tests.support.partner import (
    DEVICE_ID,
    NOTIFY_URL,
    PARTNER,
    VARIANTS,
    MakeApi,
    Parties,
    Partner,
    body_for,
    by_out_trade_no,
    by_transaction_id,
    close_path,
    paid_order,
    partner_wxpay,
    place,
    refused,
    sdk_json,
    sdk_place,
)
from tests.support.receiver import Receiver
from tests.support.v3 import V3Api

SUCCESS_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$")

# The fields seed 002 gives the partner query answer (promotion_detail only with a discount).
SEED_002_FIELDS = {
    "sp_appid",
    "sp_mchid",
    "sub_appid",
    "sub_mchid",
    "out_trade_no",
    "transaction_id",
    "trade_type",
    "trade_state",
    "trade_state_desc",
    "bank_type",
    "attach",
    "success_time",
    "payer",
    "amount",
    "scene_info",
    "promotion_detail",
}


# --- the flow through wechatpayv3 ----------------------------------------------------------------------


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_partner_order_paid_notified_and_queried(
    variant: str,
    mode: str,
    partner: Partner,
    wxpay: WeChatPay,
    emu: Emu,
    receiver: Receiver,
    v3api: MakeApi,
    trade_no: Any,
) -> None:
    provider, sub = partner.provider, partner.sub
    out_trade_no = trade_no("SP")
    code, placed = sdk_place(wxpay, partner, variant, out_trade_no, total=2345, attach="服务商-attach")
    assert code == 200, placed
    prepay_id: str | None = None
    if variant == "NATIVE":
        assert set(placed) == {"code_url"} and placed["code_url"].startswith("weixin://wxpay/bizpayurl?pr=wx")
    elif variant == "H5":
        assert set(placed) == {"h5_url"}
        assert placed["h5_url"].startswith(emu.url + "/emulator/v1/checkout?prepay_id=wx")
        prepay_id = parse_qs(urlsplit(placed["h5_url"]).query)["prepay_id"][0]
    else:
        assert set(placed) == {"prepay_id"}
        prepay_id = placed["prepay_id"]
    if prepay_id is not None:
        assert prepay_id.startswith("wx") and len(prepay_id) == 36

    code, unpaid = sdk_json(wxpay.query(out_trade_no=out_trade_no, sub_mchid=sub["mchid"]))
    assert code == 200, unpaid
    assert unpaid["trade_state"] == "NOTPAY" and "transaction_id" not in unpaid
    assert unpaid["sp_mchid"] == provider["mchid"] and unpaid["sub_mchid"] == sub["mchid"]
    assert unpaid["amount"] == {"total": 2345, "currency": "CNY"}
    assert receiver.requests == []

    # the payer pays: H5 on the emulator's checkout page (the h5_url), JSAPI/APP by prepay_id, Native (no
    # prepay_id in its answer) by the sub-merchant's order
    paid: dict[str, Any] | None = None
    if variant == "H5":
        page = httpx.get(placed["h5_url"], trust_env=False, timeout=10)
        assert page.status_code == 200 and "¥23.45" in page.text, page.text
        form = {"prepay_id": prepay_id, "result": "SUCCESS"}
        done = httpx.post(
            emu.url + "/emulator/v1/checkout", data=form, trust_env=False, timeout=10, follow_redirects=True
        )
        assert done.status_code == 200 and "支付成功" in done.text, done.text
    else:
        ident = (
            {"prepay_id": prepay_id} if prepay_id else {"mchid": sub["mchid"], "out_trade_no": out_trade_no}
        )
        response = emu.pay(**ident)
        assert response.status_code == 200, response.text
        paid = response.json()

    [notice] = receiver.wait_for(1)
    # signed and encrypted with the provider's keys, not the sub-merchant's
    provider_serial = provider["pub_key_id"] if mode == "pubkey" else provider["platform_serial"]
    assert notice.headers.get("Wechatpay-Serial") == provider_serial
    v3api(provider).assert_headers_sign(notice.headers, notice.body.encode())
    assert sub["key_mode"] == "pubkey"  # sub-merchants are made in public-key mode
    with pytest.raises(AssertionError, match="does not verify"):  # the sub-merchant's key does not verify it
        v3api({**sub, "pub_key_id": provider_serial}).assert_headers_sign(
            notice.headers, notice.body.encode()
        )
    event = wxpay.callback(notice.headers, notice.body)
    assert event is not None, "wechatpayv3 (the provider's client) could not verify or decrypt it"
    assert event["event_type"] == "TRANSACTION.SUCCESS" and event["resource_type"] == "encrypt-resource"
    assert event["summary"] == "支付成功"
    assert json.loads(notice.body)["resource"]["original_type"] == "transaction"
    resource = event["resource"]

    code, by_out = sdk_json(wxpay.query(out_trade_no=out_trade_no, sub_mchid=sub["mchid"]))
    assert code == 200
    assert resource == by_out
    if paid is not None:
        assert paid == by_out
    assert set(by_out) <= SEED_002_FIELDS, set(by_out) - SEED_002_FIELDS
    assert by_out["sp_appid"] == provider["appid"] and by_out["sp_mchid"] == provider["mchid"]
    assert by_out["sub_mchid"] == sub["mchid"] and by_out["out_trade_no"] == out_trade_no
    assert by_out["trade_type"] == VARIANTS[variant][1]
    assert by_out["trade_state"] == "SUCCESS" and by_out["trade_state_desc"] == "支付成功"
    assert by_out["bank_type"] and by_out["attach"] == "服务商-attach"
    assert SUCCESS_TIME.match(by_out["success_time"]), by_out["success_time"]
    assert by_out["amount"] == {
        "total": 2345,
        "payer_total": 2345,
        "currency": "CNY",
        "payer_currency": "CNY",
    }
    transaction_id = by_out["transaction_id"]
    assert transaction_id.isdigit() and len(transaction_id) == 28
    payer = by_out["payer"]
    assert set(payer) <= {"sp_openid", "sub_openid"} and payer.get("sp_openid")
    if variant == "JSAPI-sp_openid":
        assert payer == {"sp_openid": OPENID} and "sub_appid" not in by_out
    elif variant == "JSAPI-sub_openid":
        assert by_out["sub_appid"] == partner.sub_appid and payer["sub_openid"] == OPENID
    elif variant == "APP":
        assert by_out["sub_appid"] == sub["appid"] and payer.get("sub_openid")
    else:
        assert "sub_appid" not in by_out
    if variant == "NATIVE":
        assert by_out["scene_info"] == {"device_id": DEVICE_ID}

    code, by_id = sdk_json(wxpay.query(transaction_id=transaction_id, sub_mchid=sub["mchid"]))
    assert code == 200 and by_id == by_out

    delivered = emu.wait_notification(event["id"], lambda n: n["status"] == "DELIVERED", "DELIVERED")
    assert delivered["attempts"] == 1 and delivered["url"] == receiver.url
    assert receiver.stray == []


@pytest.mark.parametrize(
    ("result", "state", "desc"),
    [
        ("PAYERROR", "PAYERROR", "支付失败，请重新下单支付"),
        ("USERPAYING", "USERPAYING", "用户支付中，需要输入密码"),
        ("NOTENOUGH", "NOTPAY", "订单未支付"),
    ],
)
def test_payer_outcomes_other_than_success(
    result: str, state: str, desc: str, pk: Partner, pk_api: V3Api, emu: Emu, trade_no: Any
) -> None:
    out_trade_no = trade_no(result)
    prepay_id = place(pk_api, pk, out_trade_no)
    response = emu.pay(result, prepay_id=prepay_id)
    if result == "NOTENOUGH":
        assert response.status_code == 402 and response.json()["code"] == "NOT_ENOUGH", response.text
    else:
        assert response.status_code == 200 and response.json()["trade_state"] == state, response.text
    sp_mchid, sub_mchid = pk.provider["mchid"], pk.sub["mchid"]
    queried = pk_api.request("GET", by_out_trade_no(out_trade_no, sp_mchid, sub_mchid))
    assert queried.status_code == 200, queried.text
    pk_api.assert_signed(queried)
    assert (queried.json()["trade_state"], queried.json()["trade_state_desc"]) == (state, desc)
    assert "transaction_id" not in queried.json()
    closed = pk_api.request("POST", close_path(out_trade_no), {"sp_mchid": sp_mchid, "sub_mchid": sub_mchid})
    assert closed.status_code == 204, closed.text
    after = pk_api.request("GET", by_out_trade_no(out_trade_no, sp_mchid, sub_mchid)).json()
    assert after["trade_state"] == "CLOSED"
    assert emu.notifications() == []


def test_redelivered_notification_still_verifies_with_the_provider(
    parties: Parties, emu: Emu, receiver: Receiver, v3api: MakeApi, trade_no: Any
) -> None:
    p = parties.cert
    wxpay = partner_wxpay(emu.url, p.provider, receiver.url)
    out_trade_no = trade_no("REDO")
    code, placed = sdk_place(wxpay, p, "APP", out_trade_no)
    assert code == 200, placed
    assert emu.pay(prepay_id=placed["prepay_id"]).status_code == 200
    [first] = receiver.wait_for(1)
    notification_id = json.loads(first.body)["id"]
    emu.wait_notification(notification_id, lambda n: n["status"] == "DELIVERED", "DELIVERED")
    again = emu.control("POST", f"/notifications/{notification_id}/redeliver")
    assert again.status_code == 200, again.text
    second = receiver.wait_for(2)[1]
    events = [wxpay.callback(n.headers, n.body) for n in (first, second)]
    assert all(e is not None for e in events)
    assert events[0] == events[1] and events[1]["id"] == notification_id
    assert events[1]["resource"]["sub_mchid"] == p.sub["mchid"]


def pay_params(wxpay: WeChatPay, app_id: str, prepay_id: str) -> dict[str, str]:
    """What the provider's server hands wx.requestPayment, signed with the provider's key (DESIGN.md §2)."""
    params = {
        "appId": app_id,
        "timeStamp": str(int(time.time())),
        "nonceStr": secrets.token_hex(16).upper(),
        "package": f"prepay_id={prepay_id}",
        "signType": "RSA",
    }
    params["paySign"] = wxpay.sign([params[k] for k in ("appId", "timeStamp", "nonceStr", "package")])
    return params


def test_request_payment_with_the_sp_appid(
    partner: Partner, wxpay: WeChatPay, emu: Emu, receiver: Receiver, trade_no: Any
) -> None:
    """A partner JSAPI order placed without sub_appid is paid in the provider's app: appId = sp_appid,
    paySign by the provider's key (not the sub-merchant's)."""
    out_trade_no = trade_no("REQPAY")
    code, placed = sdk_place(wxpay, partner, "JSAPI-sp_openid", out_trade_no)
    assert code == 200, placed
    params = pay_params(wxpay, partner.provider["appid"], placed["prepay_id"])

    sub_wxpay = partner_wxpay(emu.url, partner.sub, receiver.url)  # the sub-merchant's own key
    by_sub = {
        **params,
        "paySign": sub_wxpay.sign([params[k] for k in ("appId", "timeStamp", "nonceStr", "package")]),
    }
    refused = emu.control("POST", "/request-payment", json=by_sub)
    assert refused.status_code == 400 and refused.json()["code"] == "SIGN_ERROR", refused.text
    other_app = {**params, "appId": partner.sub_appid}  # not the app the order was placed for
    other_app["paySign"] = wxpay.sign([other_app[k] for k in ("appId", "timeStamp", "nonceStr", "package")])
    refused = emu.control("POST", "/request-payment", json=other_app)
    assert refused.status_code == 400 and refused.json()["code"] == "APPID_MCHID_NOT_MATCH", refused.text

    paid = emu.control("POST", "/request-payment", json=params)
    assert paid.status_code == 200, paid.text
    assert paid.json()["errMsg"] == "requestPayment:ok"
    transaction = paid.json()["transaction"]
    assert transaction["trade_state"] == "SUCCESS" and transaction["payer"] == {"sp_openid": OPENID}
    [notice] = receiver.wait_for(1)
    event = wxpay.callback(notice.headers, notice.body)
    assert event is not None and event["resource"] == transaction


def test_request_payment_with_the_sub_appid(pk: Partner, emu: Emu, receiver: Receiver, trade_no: Any) -> None:
    wxpay = partner_wxpay(emu.url, pk.provider, receiver.url)
    out_trade_no = trade_no("REQSUB")
    code, placed = sdk_place(wxpay, pk, "JSAPI-sub_openid", out_trade_no)
    assert code == 200, placed
    paid = emu.control("POST", "/request-payment", json=pay_params(wxpay, pk.sub_appid, placed["prepay_id"]))
    assert paid.status_code == 200, paid.text
    assert paid.json()["transaction"]["payer"]["sub_openid"] == OPENID


def test_jsapi_with_both_openids(partner: Partner, wxpay: WeChatPay, emu: Emu, trade_no: Any) -> None:
    out_trade_no = trade_no("BOTH")
    payer = {"sp_openid": OPENID, "sub_openid": OPENID + "_sub"}
    code, placed = sdk_place(wxpay, partner, "JSAPI-sub_openid", out_trade_no, payer=payer)
    assert code == 200, placed
    assert emu.pay(prepay_id=placed["prepay_id"]).status_code == 200
    code, paid = sdk_json(wxpay.query(out_trade_no=out_trade_no, sub_mchid=partner.sub["mchid"]))
    assert code == 200 and paid["payer"] == payer and paid["sub_appid"] == partner.sub_appid


def test_close_unpaid_partner_order(partner: Partner, wxpay: WeChatPay, emu: Emu, trade_no: Any) -> None:
    sub_mchid = partner.sub["mchid"]
    out_trade_no = trade_no("CLOSE")
    code, placed = sdk_place(wxpay, partner, "NATIVE", out_trade_no)
    assert code == 200, placed

    assert wxpay.close(out_trade_no=out_trade_no, sub_mchid=sub_mchid) == (204, b"")
    code, closed = sdk_json(wxpay.query(out_trade_no=out_trade_no, sub_mchid=sub_mchid))
    assert code == 200
    assert closed["trade_state"] == "CLOSED" and closed["trade_state_desc"] == "订单已关闭"
    assert "transaction_id" not in closed and closed["sub_mchid"] == sub_mchid

    # closing again succeeds, as at WeChat
    assert wxpay.close(out_trade_no=out_trade_no, sub_mchid=sub_mchid)[0] == 204

    # ORDER_CLOSED (400): a closed order cannot be placed again, nor paid
    code, again = sdk_place(wxpay, partner, "NATIVE", out_trade_no)
    assert (code, again["code"]) == (400, "ORDER_CLOSED"), again
    unpayable = emu.pay(mchid=sub_mchid, out_trade_no=out_trade_no)
    assert unpayable.status_code == 409 and unpayable.json()["code"] == "ORDER_CLOSED"
    assert emu.notifications() == []


def test_reentry_with_identical_and_changed_parameters(
    partner: Partner, wxpay: WeChatPay, emu: Emu, trade_no: Any
) -> None:
    out_trade_no = trade_no("REENTRY")
    code, first = sdk_place(wxpay, partner, "JSAPI-sp_openid", out_trade_no, total=500)
    assert code == 200, first
    code, second = sdk_place(wxpay, partner, "JSAPI-sp_openid", out_trade_no, total=500)
    assert code == 200 and second["prepay_id"] == first["prepay_id"]

    # OUT_TRADE_NO_USED (403): the same out_trade_no with other parameters
    changes: list[dict[str, Any]] = [
        {"total": 501},
        {"payer": {"sp_openid": OPENID + "x"}},
        {"sub_appid": partner.sub_appid},
        {"payer": {"sub_openid": OPENID}, "sub_appid": partner.sub_appid},
    ]
    for change in changes:
        args = {"total": 500, **change}
        code, body = sdk_place(wxpay, partner, "JSAPI-sp_openid", out_trade_no, **args)
        assert (code, body.get("code")) == (403, "OUT_TRADE_NO_USED"), (change, body)

    code, third = sdk_place(wxpay, partner, "JSAPI-sp_openid", out_trade_no, total=500)
    assert code == 200 and third["prepay_id"] == first["prepay_id"]
    [order] = emu.orders_with(out_trade_no)
    assert order["transaction"]["amount"]["total"] == 500 and order["transaction"]["trade_state"] == "NOTPAY"


def test_out_trade_no_is_unique_per_sub_merchant(
    parties: Parties, pk: Partner, pk_api: V3Api, emu: Emu, trade_no: Any
) -> None:
    """Two sub-merchants of one provider may use the same out_trade_no; each finds only its own."""
    out_trade_no = trade_no("TWIN")
    sibling = Partner(pk.provider, parties.sibling, parties.sibling["appid"])
    first = place(pk_api, pk, out_trade_no)
    second = place(pk_api, sibling, out_trade_no, amount={"total": 777, "currency": "CNY"})
    assert first != second
    mine = pk_api.request("GET", by_out_trade_no(out_trade_no, pk.provider["mchid"], pk.sub["mchid"]))
    theirs = pk_api.request(
        "GET", by_out_trade_no(out_trade_no, pk.provider["mchid"], parties.sibling["mchid"])
    )
    assert mine.json()["amount"]["total"] == 100 and theirs.json()["amount"]["total"] == 777


def test_paid_partner_order_cannot_be_closed_or_placed_again(
    pk: Partner, pk_api: V3Api, emu: Emu, trade_no: Any
) -> None:
    out_trade_no = trade_no("PAID")
    paid_order(pk_api, emu, pk, out_trade_no)
    close = {"sp_mchid": pk.provider["mchid"], "sub_mchid": pk.sub["mchid"]}
    response = pk_api.request("POST", close_path(out_trade_no), close)
    assert response.status_code == 400 and response.json()["code"] == "ORDERPAID", response.text
    again = pk_api.request("POST", f"{PARTNER}/jsapi", body_for(pk, out_trade_no))
    assert again.status_code == 400 and again.json()["code"] == "ORDERPAID", again.text
    twice = emu.pay(mchid=pk.sub["mchid"], out_trade_no=out_trade_no)
    assert twice.status_code == 409 and twice.json()["code"] == "ORDER_PAID"
    assert len(emu.notifications()) == 1


def test_control_plane_refuses_a_bad_provider(parties: Parties, emu: Emu) -> None:
    """A sub-merchant needs an existing provider, and a sub-merchant cannot be one."""
    unknown = emu.control("POST", "/merchants", json={"sp_mchid": "1999999998"})
    assert unknown.status_code == 404 and unknown.json()["code"] == "MCH_NOT_EXISTS", unknown.text
    nested = emu.control("POST", "/merchants", json={"sp_mchid": parties.pubkey.sub["mchid"]})
    assert nested.status_code == 400 and nested.json()["code"] == "PARAM_ERROR", nested.text
    listed = emu.control("GET", "/merchants").json()["data"]
    subs = {m["mchid"]: m["sp_mchid"] for m in listed if m["sp_mchid"]}
    assert subs[parties.pubkey.sub["mchid"]] == parties.pubkey.provider["mchid"]
    assert subs[parties.cert.sub["mchid"]] == parties.cert.provider["mchid"]
    assert len(subs) == 4  # pubkey's, cert's, the sibling, the stranger's


# --- relationships between provider, sub-merchant and appids -------------------------------------------


def test_sub_merchant_of_another_provider_is_no_auth(
    parties: Parties, partner: Partner, api: V3Api, emu: Emu, v3api: MakeApi, trade_no: Any
) -> None:
    """NO_AUTH (403) on create, both queries and close, even for an order that exists (the stranger's)."""
    stranger = parties.stranger
    stranger_api = v3api(stranger.provider)
    out_trade_no = trade_no("FOREIGN")
    transaction_id = paid_order(stranger_api, emu, stranger, out_trade_no)["transaction_id"]

    sp_mchid, foreign_sub = partner.provider["mchid"], stranger.sub["mchid"]
    create = api.request("POST", f"{PARTNER}/jsapi", body_for(partner, trade_no(), sub_mchid=foreign_sub))
    refused(api, create, "NO_AUTH", "sub_mchid")
    refused(api, api.request("GET", by_out_trade_no(out_trade_no, sp_mchid, foreign_sub)), "NO_AUTH")
    refused(api, api.request("GET", by_transaction_id(transaction_id, sp_mchid, foreign_sub)), "NO_AUTH")
    close = api.request("POST", close_path(out_trade_no), {"sp_mchid": sp_mchid, "sub_mchid": foreign_sub})
    refused(api, close, "NO_AUTH")

    # the provider is not its own sub-merchant
    as_sub = api.request("POST", f"{PARTNER}/app", body_for(partner, trade_no(), "app", sub_mchid=sp_mchid))
    refused(api, as_sub, "NO_AUTH")
    # and a sub-merchant is nobody's provider: signing as sp_mchid for another sub-merchant is NO_AUTH
    sub_api = v3api(partner.sub)
    own = {
        "sp_appid": partner.sub["appid"],
        "sp_mchid": partner.sub["mchid"],
        "sub_mchid": parties.sibling["mchid"],
    }
    refused(
        sub_api,
        sub_api.request("POST", f"{PARTNER}/app", body_for(partner, trade_no(), "app", **own)),
        "NO_AUTH",
    )
    # the stranger's order is untouched
    [order] = emu.orders_with(out_trade_no)
    assert order["transaction"]["trade_state"] == "SUCCESS"
    assert [o["transaction"]["out_trade_no"] for o in emu.orders()] == [out_trade_no]


def test_foreign_sub_merchant_through_wechatpayv3(
    parties: Parties, partner: Partner, wxpay: WeChatPay, trade_no: Any
) -> None:
    foreign = parties.stranger.sub["mchid"]
    out_trade_no = trade_no("FOREIGN")
    code, body = sdk_place(wxpay, partner, "JSAPI-sp_openid", out_trade_no, sub_mchid=foreign)
    assert (code, body["code"]) == (403, "NO_AUTH")
    code, body = sdk_json(wxpay.query(out_trade_no=out_trade_no, sub_mchid=foreign))
    assert (code, body["code"]) == (403, "NO_AUTH")
    code, body = sdk_json(wxpay.close(out_trade_no=out_trade_no, sub_mchid=foreign))
    assert (code, body["code"]) == (403, "NO_AUTH")


def test_unknown_sub_mchid_is_mch_not_exists(partner: Partner, api: V3Api, trade_no: Any) -> None:
    sp_mchid, unknown = partner.provider["mchid"], "1999999999"
    out_trade_no = trade_no("NOMCH")
    create = api.request(
        "POST", f"{PARTNER}/native", body_for(partner, out_trade_no, "native", sub_mchid=unknown)
    )
    refused(api, create, "MCH_NOT_EXISTS", "sub_mchid")
    refused(api, api.request("GET", by_out_trade_no(out_trade_no, sp_mchid, unknown)), "MCH_NOT_EXISTS")
    transaction_id = "4200000000202601010000000000"
    refused(api, api.request("GET", by_transaction_id(transaction_id, sp_mchid, unknown)), "MCH_NOT_EXISTS")
    close = api.request("POST", close_path(out_trade_no), {"sp_mchid": sp_mchid, "sub_mchid": unknown})
    refused(api, close, "MCH_NOT_EXISTS")


@pytest.mark.parametrize("which", ["unknown", "the-sub-merchants-own", "another-providers"])
def test_sp_appid_not_bound_to_the_provider(
    which: str, parties: Parties, partner: Partner, api: V3Api, emu: Emu, trade_no: Any
) -> None:
    sp_appid = {
        "unknown": "wx" + secrets.token_hex(8),
        "the-sub-merchants-own": partner.sub["appid"],
        "another-providers": parties.stranger.provider["appid"],
    }[which]
    response = api.request("POST", f"{PARTNER}/app", body_for(partner, trade_no(), "app", sp_appid=sp_appid))
    body = refused(api, response, "APPID_MCHID_NOT_MATCH", "sp_appid")
    assert body["detail"]["value"] == sp_appid
    assert emu.orders() == []


@pytest.mark.parametrize("which", ["unknown", "the-providers", "a-sibling-sub-merchants"])
def test_sub_appid_not_bound_to_the_sub_merchant(
    which: str, parties: Parties, partner: Partner, api: V3Api, emu: Emu, trade_no: Any
) -> None:
    sub_appid = {
        "unknown": "wx" + secrets.token_hex(8),
        "the-providers": partner.provider["appid"],
        "a-sibling-sub-merchants": parties.sibling["appid"],
    }[which]
    body = body_for(partner, trade_no(), sub_appid=sub_appid, payer={"sub_openid": OPENID})
    answer = refused(api, api.request("POST", f"{PARTNER}/jsapi", body), "APPID_MCHID_NOT_MATCH", "sub_appid")
    assert answer["detail"]["value"] == sub_appid
    assert emu.orders() == []


def test_direct_order_is_not_found_through_the_partner_api(
    pk: Partner, pk_api: V3Api, emu: Emu, v3api: MakeApi, trade_no: Any
) -> None:
    """The sub-merchant's own direct order (it signs /v3/pay/transactions itself) is not a partner order."""
    sub_api = v3api(pk.sub)
    out_trade_no = trade_no("DIRECT")
    placed = sub_api.request(
        "POST", "/v3/pay/transactions/jsapi", sub_api.prepay_body(out_trade_no, NOTIFY_URL)
    )
    assert placed.status_code == 200, placed.text
    paid = emu.pay(prepay_id=placed.json()["prepay_id"])
    assert paid.status_code == 200, paid.text
    transaction_id = paid.json()["transaction_id"]
    direct = sub_api.request(
        "GET", f"/v3/pay/transactions/out-trade-no/{out_trade_no}?mchid={pk.sub['mchid']}"
    )
    assert direct.status_code == 200 and direct.json()["mchid"] == pk.sub["mchid"]

    sp_mchid, sub_mchid = pk.provider["mchid"], pk.sub["mchid"]
    refused(
        pk_api, pk_api.request("GET", by_out_trade_no(out_trade_no, sp_mchid, sub_mchid)), "ORDER_NOT_EXIST"
    )
    refused(
        pk_api,
        pk_api.request("GET", by_transaction_id(transaction_id, sp_mchid, sub_mchid)),
        "ORDER_NOT_EXIST",
    )
    close = pk_api.request("POST", close_path(out_trade_no), {"sp_mchid": sp_mchid, "sub_mchid": sub_mchid})
    refused(pk_api, close, "ORDER_NOT_EXIST")

    # out_trade_no is unique per merchant across both APIs: the provider cannot reuse an unpaid direct
    # order's number for a partner order of the same sub-merchant
    unpaid = trade_no("DIRECT")
    direct_body = sub_api.prepay_body(unpaid, NOTIFY_URL)
    assert sub_api.request("POST", "/v3/pay/transactions/jsapi", direct_body).status_code == 200
    reused = pk_api.request("POST", f"{PARTNER}/jsapi", body_for(pk, unpaid))
    refused(pk_api, reused, "OUT_TRADE_NO_USED")


def test_partner_order_is_not_found_through_the_direct_api(
    pk: Partner, pk_api: V3Api, emu: Emu, v3api: MakeApi, trade_no: Any
) -> None:
    """Neither the sub-merchant nor the provider sees a partner order through /v3/pay/transactions."""
    out_trade_no = trade_no("PARTNER")
    transaction_id = paid_order(pk_api, emu, pk, out_trade_no)["transaction_id"]
    for signer in (pk.sub, pk.provider):
        direct = v3api(signer)
        mchid = signer["mchid"]
        by_out = direct.request("GET", f"/v3/pay/transactions/out-trade-no/{out_trade_no}?mchid={mchid}")
        refused(direct, by_out, "ORDER_NOT_EXIST")
        by_id = direct.request("GET", f"/v3/pay/transactions/id/{transaction_id}?mchid={mchid}")
        refused(direct, by_id, "ORDER_NOT_EXIST")
        close = direct.request(
            "POST", f"/v3/pay/transactions/out-trade-no/{out_trade_no}/close", {"mchid": mchid}
        )
        refused(direct, close, "ORDER_NOT_EXIST")
    sp_mchid, sub_mchid = pk.provider["mchid"], pk.sub["mchid"]
    still = pk_api.request("GET", by_out_trade_no(out_trade_no, sp_mchid, sub_mchid))
    assert still.status_code == 200 and still.json()["trade_state"] == "SUCCESS"


def test_order_of_a_sibling_sub_merchant_is_not_found(
    parties: Parties, pk: Partner, pk_api: V3Api, emu: Emu, trade_no: Any
) -> None:
    out_trade_no = trade_no("SIBLING")
    transaction_id = paid_order(pk_api, emu, pk, out_trade_no)["transaction_id"]
    sp_mchid, sibling = pk.provider["mchid"], parties.sibling["mchid"]
    refused(
        pk_api, pk_api.request("GET", by_out_trade_no(out_trade_no, sp_mchid, sibling)), "ORDER_NOT_EXIST"
    )
    refused(
        pk_api, pk_api.request("GET", by_transaction_id(transaction_id, sp_mchid, sibling)), "ORDER_NOT_EXIST"
    )
    close = pk_api.request("POST", close_path(out_trade_no), {"sp_mchid": sp_mchid, "sub_mchid": sibling})
    refused(pk_api, close, "ORDER_NOT_EXIST")


# --- seed 002's error table: the rows merchant input produces ------------------------------------------


def test_sign_error(partner: Partner, api: V3Api, emu: Emu, trade_no: Any) -> None:
    """SIGN_ERROR (401): a body changed after signing, a query signed for another query string."""
    body = body_for(partner, trade_no())
    tampered = json.dumps({**body, "amount": {"total": 1, "currency": "CNY"}}).encode()
    refused(api, api.request("POST", f"{PARTNER}/jsapi", body, sent_body=tampered), "SIGN_ERROR")

    sp_mchid, sub_mchid = partner.provider["mchid"], partner.sub["mchid"]
    signed_for = by_out_trade_no("SIGNED_FOR", sp_mchid, sub_mchid)
    sent_to = by_out_trade_no("SENT_TO_X", sp_mchid, sub_mchid)
    headers = {"Authorization": api.authorization("GET", signed_for, b"")}
    response = api.http.get(emu.url + sent_to, headers=headers)
    refused(api, response, "SIGN_ERROR")
    assert emu.orders() == []


# (id, method, path template, body, detail.field); {sp} {sub} {otn} are filled in
PARAM_CASES: list[tuple[str, str, str, Any, str]] = [
    ("prepay-without-sub_mchid", "POST", "/jsapi", {"sub_mchid": None}, "sub_mchid"),
    ("prepay-without-sp_appid", "POST", "/app", {"sp_appid": None}, "sp_appid"),
    ("prepay-without-description", "POST", "/native", {"description": None}, "description"),
    ("jsapi-without-payer", "POST", "/jsapi", {"payer": None}, "payer.sp_openid"),
    ("jsapi-with-empty-payer", "POST", "/jsapi", {"payer": {}}, "payer.sp_openid"),
    ("sub_openid-without-sub_appid", "POST", "/jsapi", {"payer": {"sub_openid": OPENID}}, "sub_appid"),
    (
        "h5-without-h5_info",
        "POST",
        "/h5",
        {"scene_info": {"payer_client_ip": "127.0.0.1"}},
        "scene_info.h5_info",
    ),
    ("out_trade_no-too-short", "POST", "/app", {"out_trade_no": "A2345"}, "out_trade_no"),
    ("sub_mchid-too-long", "POST", "/app", {"sub_mchid": "1" * 33}, "sub_mchid"),
    ("query-without-sub_mchid", "GET", "/out-trade-no/{otn}?sp_mchid={sp}", None, "sub_mchid"),
    ("query-without-sp_mchid", "GET", "/out-trade-no/{otn}?sub_mchid={sub}", None, "sp_mchid"),
    (
        "query-by-id-without-sub_mchid",
        "GET",
        "/id/4200000000202601010000000000?sp_mchid={sp}",
        None,
        "sub_mchid",
    ),
    (
        "query-bad-out_trade_no",
        "GET",
        "/out-trade-no/A2345?sp_mchid={sp}&sub_mchid={sub}",
        None,
        "out_trade_no",
    ),
    ("close-without-sub_mchid", "POST", "/out-trade-no/{otn}/close", {"sp_mchid": "{sp}"}, "sub_mchid"),
    (
        "close-bad-out_trade_no",
        "POST",
        "/out-trade-no/A2345/close",
        {"sp_mchid": "{sp}", "sub_mchid": "{sub}"},
        "out_trade_no",
    ),
]


@pytest.mark.parametrize(
    ("method", "template", "change", "field"), [c[1:] for c in PARAM_CASES], ids=[c[0] for c in PARAM_CASES]
)
def test_param_error(
    method: str, template: str, change: Any, field: str, partner: Partner, api: V3Api, emu: Emu, trade_no: Any
) -> None:
    values = {"sp": partner.provider["mchid"], "sub": partner.sub["mchid"], "otn": trade_no()}
    path = PARTNER + template.format(**values)
    body: dict[str, Any] | None = None
    if method == "POST" and template.endswith("/close"):
        body = {k: v.format(**values) for k, v in change.items()}
    elif method == "POST":
        body = body_for(partner, values["otn"], template.strip("/"), **change)
    refused(api, api.request(method, path, body), "PARAM_ERROR", field)
    assert emu.orders() == []


def test_out_trade_no_used(pk: Partner, pk_api: V3Api, emu: Emu, trade_no: Any) -> None:
    """OUT_TRADE_NO_USED (403): the same out_trade_no of the same sub-merchant with another total."""
    out_trade_no = trade_no("USED")
    prepay_id = place(pk_api, pk, out_trade_no)
    changed = body_for(pk, out_trade_no, amount={"total": 200, "currency": "CNY"})
    refused(pk_api, pk_api.request("POST", f"{PARTNER}/jsapi", changed), "OUT_TRADE_NO_USED")
    # another trade type under the same out_trade_no is another order too
    native = body_for(pk, out_trade_no, "native")
    refused(pk_api, pk_api.request("POST", f"{PARTNER}/native", native), "OUT_TRADE_NO_USED")
    assert place(pk_api, pk, out_trade_no) == prepay_id


def test_order_not_exist(partner: Partner, api: V3Api, trade_no: Any) -> None:
    sp_mchid, sub_mchid = partner.provider["mchid"], partner.sub["mchid"]
    out_trade_no = trade_no("NOSUCH")
    refused(api, api.request("GET", by_out_trade_no(out_trade_no, sp_mchid, sub_mchid)), "ORDER_NOT_EXIST")
    by_id = by_transaction_id("4200000000202601010000000000", sp_mchid, sub_mchid)
    refused(api, api.request("GET", by_id), "ORDER_NOT_EXIST")
    close = api.request("POST", close_path(out_trade_no), {"sp_mchid": sp_mchid, "sub_mchid": sub_mchid})
    refused(api, close, "ORDER_NOT_EXIST")


def test_order_closed(pk: Partner, pk_api: V3Api, emu: Emu, trade_no: Any) -> None:
    """ORDER_CLOSED (400): placing a closed order again (the SDK test above does it too)."""
    out_trade_no = trade_no("CLOSED")
    place(pk_api, pk, out_trade_no, "app")
    close = {"sp_mchid": pk.provider["mchid"], "sub_mchid": pk.sub["mchid"]}
    response = pk_api.request("POST", close_path(out_trade_no), close)
    assert response.status_code == 204 and response.content == b""
    pk_api.assert_signed(response)
    again = pk_api.request("POST", f"{PARTNER}/app", body_for(pk, out_trade_no, "app"))
    refused(pk_api, again, "ORDER_CLOSED")


@pytest.mark.parametrize("transaction_id", ["abc", "42000000002026010100000000x0", "4200-0000", "1" * 33])
def test_invalid_transaction_id(transaction_id: str, partner: Partner, api: V3Api) -> None:
    """INVALID_TRANSACTIONID (500): not 1-32 digits."""
    path = by_transaction_id(transaction_id, partner.provider["mchid"], partner.sub["mchid"])
    refused(api, api.request("GET", path), "INVALID_TRANSACTIONID")


@pytest.mark.parametrize("transaction_id", ["４２００００００００", "²³", "٤٢٠٠"])
def test_non_ascii_digits_are_an_invalid_transaction_id(
    transaction_id: str, pk: Partner, pk_api: V3Api
) -> None:
    # signed as sent: percent-encoded UTF-8 (DESIGN.md §2, the path exactly as on the wire)
    path = by_transaction_id(quote(transaction_id), pk.provider["mchid"], pk.sub["mchid"])
    refused(pk_api, pk_api.request("GET", path), "INVALID_TRANSACTIONID")


def test_invalid_request_when_sp_mchid_is_not_the_signer(
    parties: Parties, partner: Partner, api: V3Api, emu: Emu, trade_no: Any
) -> None:
    """INVALID_REQUEST (400): the body's or the query's sp_mchid differs from the Authorization's mchid."""
    other = parties.stranger.provider["mchid"]
    sub_mchid = partner.sub["mchid"]
    out_trade_no = trade_no("OTHERSP")
    create = api.request("POST", f"{PARTNER}/jsapi", body_for(partner, out_trade_no, sp_mchid=other))
    refused(api, create, "INVALID_REQUEST")
    refused(api, api.request("GET", by_out_trade_no(out_trade_no, other, sub_mchid)), "INVALID_REQUEST")
    by_id = by_transaction_id("4200000000202601010000000000", other, sub_mchid)
    refused(api, api.request("GET", by_id), "INVALID_REQUEST")
    close = api.request("POST", close_path(out_trade_no), {"sp_mchid": other, "sub_mchid": sub_mchid})
    refused(api, close, "INVALID_REQUEST")
    # and an empty body where one is needed
    refused(api, api.request("POST", f"{PARTNER}/native", b""), "INVALID_REQUEST")
    assert emu.orders() == []

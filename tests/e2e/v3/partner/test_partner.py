"""The partner payment API (服务商 / 电商平台, seed 002) end to end, against the real emulator process.

A provider (``sp_mchid``) signs every call; the order belongs to one of its sub-merchants (``sub_mchid``).
The flow goes through wechatpayv3 2.0.4 in partner mode, unmodified, with the provider in public-key and
in platform-certificate mode. The relationship rules and every row of seed 002's error table go through
hand-signed requests in process: tests/unit/api/v3/test_partner.py.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from wechatpayv3 import WeChatPay

from tests.support.common import OPENID
from tests.support.emulator import Emu
from tests.support.partner import (
    BY_FAULT,
    DEVICE_ID,
    SEED_002_ERRORS,
    VARIANTS,
    MakeApi,
    Parties,
    Partner,
    arm,
    partner_wxpay,
    pending,
    sdk_json,
    sdk_place,
)
from tests.support.receiver import Receiver

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


# --- relationships between provider, sub-merchant and appids -------------------------------------------


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


# --- seed 002's error table: the rows merchant input produces ------------------------------------------


# --- seed 002's fault rows, as wechatpayv3 sees them (each row, hand-signed: tests/unit/api/v3) --------


def test_fault_in_certificate_mode_through_wechatpayv3(
    parties: Parties, emu: Emu, receiver: Receiver, trade_no: Any
) -> None:
    """The provider in platform-certificate mode: wechatpayv3 gets the seed's status and code for every
    row (and verifies the signature of the 2xx one, USERPAYING)."""
    p = parties.cert
    wxpay = partner_wxpay(emu.url, p.provider, receiver.url)
    for code in BY_FAULT:
        arm(emu, "partner.prepay", code)
        status, body = sdk_place(wxpay, p, "APP", trade_no("FAULT"))
        assert (status, body["code"]) == (SEED_002_ERRORS[code], code), body
        assert emu.orders() == [] and pending(emu) == {}

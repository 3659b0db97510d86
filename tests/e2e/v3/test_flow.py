"""The APIv3 order flow through wechatpayv3 2.0.4, unmodified, against the real emulator process.

Each test runs in public-key mode, in certificate mode with cert_dir, and in certificate mode where the
SDK bootstraps its platform certificate from GET /v3/certificates (DESIGN.md §3).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.hazmat.primitives import serialization
from wechatpayv3 import WeChatPay, WeChatPayType

from tests.support.v3 import place

OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
MODES = ["pubkey", "cert", "cert-bootstrap"]
KINDS = {
    "JSAPI": (WeChatPayType.JSAPI, "JSAPI"),
    "APP": (WeChatPayType.APP, "APP"),
    "H5": (WeChatPayType.H5, "MWEB"),
    "NATIVE": (WeChatPayType.NATIVE, "NATIVE"),
}


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def merchant(mode: str, merchants: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return merchants["pubkey" if mode == "pubkey" else "cert"]


@pytest.fixture
def wxpay(make_wxpay: Callable[[str, str], WeChatPay], mode: str, receiver: Any) -> WeChatPay:
    return make_wxpay(mode, receiver.url)


def query(wxpay: WeChatPay, **by: str) -> tuple[int, dict[str, Any]]:
    code, text = wxpay.query(**by)
    return code, json.loads(text)


@pytest.mark.parametrize("kind", list(KINDS))
def test_order_paid_notified_and_queried(
    kind: str, mode: str, merchant: dict[str, Any], wxpay: WeChatPay, emu: Any, receiver: Any, trade_no: Any
) -> None:
    out_trade_no = trade_no(kind)
    code, placed = place(wxpay, kind, out_trade_no, total=2345, attach="e2e-attach")
    assert code == 200, placed
    prepay_id: str | None = None
    if kind in ("JSAPI", "APP"):
        assert set(placed) == {"prepay_id"}
        prepay_id = placed["prepay_id"]
    elif kind == "NATIVE":
        assert set(placed) == {"code_url"}
        assert placed["code_url"].startswith("weixin://wxpay/bizpayurl?pr=wx")
    else:
        assert set(placed) == {"h5_url"}
        assert placed["h5_url"].startswith(emu.url + "/emulator/v1/checkout?prepay_id=wx")
        prepay_id = parse_qs(urlsplit(placed["h5_url"]).query)["prepay_id"][0]
    if prepay_id is not None:
        assert prepay_id.startswith("wx") and len(prepay_id) == 36

    code, unpaid = query(wxpay, out_trade_no=out_trade_no)
    assert code == 200
    assert unpaid["trade_state"] == "NOTPAY" and "transaction_id" not in unpaid
    assert unpaid["amount"] == {"total": 2345, "currency": "CNY"}
    assert receiver.requests == []

    if prepay_id is not None:
        paid = emu.pay(prepay_id=prepay_id)
    else:
        paid = emu.pay(mchid=merchant["mchid"], out_trade_no=out_trade_no)
    assert paid.status_code == 200, paid.text
    assert paid.json()["trade_state"] == "SUCCESS"

    [notice] = receiver.wait_for(1)
    assert notice.headers.get("Wechatpay-Serial") == (
        merchant["pub_key_id"] if mode == "pubkey" else merchant["platform_serial"]
    )
    assert notice.headers.get("Content-Type", "").startswith("application/json")
    event = wxpay.callback(notice.headers, notice.body)
    assert event is not None, "wechatpayv3 could not verify or decrypt the notification"
    assert event["event_type"] == "TRANSACTION.SUCCESS"
    assert event["resource_type"] == "encrypt-resource"
    assert event["summary"] == "支付成功"
    assert event["id"] == json.loads(notice.body)["id"]
    resource = event["resource"]

    code, by_out_trade_no = query(wxpay, out_trade_no=out_trade_no)
    assert code == 200
    assert resource == by_out_trade_no == paid.json()
    assert by_out_trade_no["trade_state"] == "SUCCESS"
    assert by_out_trade_no["trade_state_desc"] == "支付成功"
    assert by_out_trade_no["trade_type"] == KINDS[kind][1]
    assert by_out_trade_no["mchid"] == merchant["mchid"] and by_out_trade_no["appid"] == merchant["appid"]
    assert by_out_trade_no["out_trade_no"] == out_trade_no
    assert by_out_trade_no["attach"] == "e2e-attach"
    assert by_out_trade_no["amount"] == {
        "total": 2345,
        "currency": "CNY",
        "payer_total": 2345,
        "payer_currency": "CNY",
    }
    transaction_id = by_out_trade_no["transaction_id"]
    assert transaction_id.isdigit() and len(transaction_id) == 28
    assert by_out_trade_no["success_time"]
    payer_openid = by_out_trade_no["payer"]["openid"]
    if kind == "JSAPI":
        assert payer_openid == OPENID
    else:
        assert payer_openid

    code, by_transaction_id = query(wxpay, transaction_id=transaction_id)
    assert code == 200
    assert by_transaction_id == by_out_trade_no

    delivered = emu.wait_notification(event["id"], lambda n: n["status"] == "DELIVERED", "DELIVERED")
    assert delivered["attempts"] == 1 and len(delivered["deliveries"]) == 1
    assert delivered["deliveries"][0]["response_status"] == 200
    assert delivered["event_type"] == "TRANSACTION.SUCCESS" and delivered["url"] == receiver.url
    assert receiver.stray == []


def test_close_unpaid_order(merchant: dict[str, Any], wxpay: WeChatPay, emu: Any, trade_no: Any) -> None:
    out_trade_no = trade_no("CLOSE")
    code, placed = place(wxpay, "NATIVE", out_trade_no)
    assert code == 200, placed

    code, body = wxpay.close(out_trade_no=out_trade_no)
    assert (code, body) == (204, b"")
    code, closed = query(wxpay, out_trade_no=out_trade_no)
    assert code == 200
    assert closed["trade_state"] == "CLOSED" and closed["trade_state_desc"] == "订单已关闭"
    assert "transaction_id" not in closed

    # closing again succeeds, as at WeChat
    assert wxpay.close(out_trade_no=out_trade_no)[0] == 204

    # a closed order can neither be placed again nor paid
    code, again = place(wxpay, "NATIVE", out_trade_no)
    assert code == 400 and again["code"] == "ORDER_CLOSED", again
    refused = emu.pay(mchid=merchant["mchid"], out_trade_no=out_trade_no)
    assert refused.status_code == 409 and refused.json()["code"] == "ORDER_CLOSED"
    assert emu.notifications() == []


def test_close_unknown_order(wxpay: WeChatPay, trade_no: Any) -> None:
    code, text = wxpay.close(out_trade_no=trade_no("NOSUCH"))
    assert code == 404 and json.loads(text)["code"] == "ORDER_NOT_EXIST"


def test_query_unknown_order(wxpay: WeChatPay, trade_no: Any) -> None:
    code, body = query(wxpay, out_trade_no=trade_no("NOSUCH"))
    assert code == 404 and body["code"] == "ORDER_NOT_EXIST"
    code, body = query(wxpay, transaction_id="4200000000202601010000000000")
    assert code == 404 and body["code"] == "ORDER_NOT_EXIST"


def test_reentry_with_identical_and_changed_parameters(
    merchant: dict[str, Any], wxpay: WeChatPay, emu: Any, trade_no: Any
) -> None:
    out_trade_no = trade_no("REENTRY")
    code, first = place(wxpay, "JSAPI", out_trade_no, total=500)
    assert code == 200, first
    code, second = place(wxpay, "JSAPI", out_trade_no, total=500)
    assert code == 200, second
    assert second["prepay_id"] == first["prepay_id"]

    for changed in ({"total": 501}, {"description": "另一件商品"}, {"attach": "changed"}):
        args = {"total": 500, **changed}
        code, refused = place(wxpay, "JSAPI", out_trade_no, **args)
        assert code == 403, (changed, refused)
        assert refused["code"] == "OUT_TRADE_NO_USED"
    code, changed_payer = place(wxpay, "JSAPI", out_trade_no, total=500, payer={"openid": OPENID + "x"})
    assert code == 403 and changed_payer["code"] == "OUT_TRADE_NO_USED"

    # the refusals changed nothing: identical parameters still get the same prepay_id
    code, third = place(wxpay, "JSAPI", out_trade_no, total=500)
    assert code == 200 and third["prepay_id"] == first["prepay_id"]
    [order] = emu.orders_with(out_trade_no)
    assert order["prepay_id"] == first["prepay_id"]
    assert order["transaction"]["amount"]["total"] == 500
    assert order["transaction"]["trade_state"] == "NOTPAY"


def test_reentry_of_a_paid_order(
    merchant: dict[str, Any], wxpay: WeChatPay, emu: Any, receiver: Any, trade_no: Any
) -> None:
    out_trade_no = trade_no("PAID")
    code, placed = place(wxpay, "APP", out_trade_no)
    assert code == 200, placed
    assert emu.pay(prepay_id=placed["prepay_id"]).status_code == 200
    receiver.wait_for(1)

    code, again = place(wxpay, "APP", out_trade_no)
    assert code == 400 and again["code"] == "ORDERPAID", again
    code, changed = place(wxpay, "APP", out_trade_no, total=999)
    assert code == 400 and changed["code"] == "ORDERPAID", changed
    code, text = wxpay.close(out_trade_no=out_trade_no)
    assert code == 400 and json.loads(text)["code"] == "ORDERPAID"
    twice = emu.pay(mchid=merchant["mchid"], out_trade_no=out_trade_no)
    assert twice.status_code == 409 and twice.json()["code"] == "ORDER_PAID"
    assert query(wxpay, out_trade_no=out_trade_no)[1]["trade_state"] == "SUCCESS"
    assert len(emu.notifications()) == 1


def pay_params(merchant: dict[str, Any], wxpay: WeChatPay, prepay_id: str) -> dict[str, str]:
    """What the merchant's server hands wx.requestPayment (DESIGN.md §2)."""
    params = {
        "appId": merchant["appid"],
        "timeStamp": str(int(time.time())),
        "nonceStr": "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
        "package": f"prepay_id={prepay_id}",
        "signType": "RSA",
    }
    keys = ["appId", "timeStamp", "nonceStr", "package"]
    params["paySign"] = wxpay.sign([params[k] for k in keys])
    return params


def test_request_payment_with_sdk_pay_sign(
    merchant: dict[str, Any], wxpay: WeChatPay, emu: Any, receiver: Any, trade_no: Any
) -> None:
    out_trade_no = trade_no("MINI")
    code, placed = place(wxpay, "JSAPI", out_trade_no, total=888)
    assert code == 200, placed
    params = pay_params(merchant, wxpay, placed["prepay_id"])

    wrong_nonce = {**params, "nonceStr": params["nonceStr"][:-1] + "X"}
    for bad in (
        wrong_nonce,
        {
            **params,
            "paySign": wxpay.sign(["wrong", params["timeStamp"], params["nonceStr"], params["package"]]),
        },
        {**params, "paySign": params["paySign"][:-4] + "AAA="},
    ):
        refused = emu.control("POST", "/request-payment", json=bad)
        assert refused.status_code == 400, refused.text
        assert refused.json()["code"] == "SIGN_ERROR"
    assert query(wxpay, out_trade_no=out_trade_no)[1]["trade_state"] == "NOTPAY"

    paid = emu.control("POST", "/request-payment", json=params)
    assert paid.status_code == 200, paid.text
    assert paid.json()["errMsg"] == "requestPayment:ok"
    assert paid.json()["transaction"]["trade_state"] == "SUCCESS"
    assert paid.json()["transaction"]["payer"] == {"openid": OPENID}

    [notice] = receiver.wait_for(1)
    event = wxpay.callback(notice.headers, notice.body)
    assert event is not None
    code, queried = query(wxpay, out_trade_no=out_trade_no)
    assert code == 200 and queried["trade_state"] == "SUCCESS"
    assert event["resource"] == queried == paid.json()["transaction"]

    again = emu.control("POST", "/request-payment", json=params)
    assert again.status_code == 409 and again.json()["code"] == "ORDER_PAID"


def test_request_payment_with_another_apps_id(
    merchant: dict[str, Any], wxpay: WeChatPay, emu: Any, trade_no: Any
) -> None:
    code, placed = place(wxpay, "JSAPI", trade_no("APPID"))
    assert code == 200, placed
    params = pay_params(merchant, wxpay, placed["prepay_id"])
    params["appId"] = "wx0000000000000000"
    keys = ["appId", "timeStamp", "nonceStr", "package"]
    params["paySign"] = wxpay.sign([params[k] for k in keys])
    refused = emu.control("POST", "/request-payment", json=params)
    assert refused.status_code == 400 and refused.json()["code"] == "APPID_MCHID_NOT_MATCH"


@pytest.mark.parametrize("mode", ["pubkey"], indirect=True)
def test_payer_outcomes(
    merchant: dict[str, Any], wxpay: WeChatPay, emu: Any, receiver: Any, trade_no: Any
) -> None:
    """USERPAYING then SUCCESS; NOTENOUGH leaves the order payable; PAYERROR is final and silent."""
    slow, short, failed = trade_no("SLOW"), trade_no("SHORT"), trade_no("FAILED")
    for out_trade_no in (slow, short, failed):
        assert place(wxpay, "NATIVE", out_trade_no)[0] == 200

    paying = emu.pay("USERPAYING", mchid=merchant["mchid"], out_trade_no=slow)
    assert paying.status_code == 200 and paying.json()["trade_state"] == "USERPAYING"
    assert query(wxpay, out_trade_no=slow)[1]["trade_state"] == "USERPAYING"

    not_enough = emu.pay("NOTENOUGH", mchid=merchant["mchid"], out_trade_no=short)
    assert not_enough.status_code == 402 and not_enough.json()["code"] == "NOT_ENOUGH"
    assert query(wxpay, out_trade_no=short)[1]["trade_state"] == "NOTPAY"

    error = emu.pay("PAYERROR", mchid=merchant["mchid"], out_trade_no=failed)
    assert error.status_code == 200 and error.json()["trade_state"] == "PAYERROR"
    code, body = query(wxpay, out_trade_no=failed)
    assert code == 200 and body["trade_state"] == "PAYERROR" and "transaction_id" not in body
    after_error = emu.pay(mchid=merchant["mchid"], out_trade_no=failed)
    assert after_error.status_code == 409

    done = emu.pay(mchid=merchant["mchid"], out_trade_no=slow)
    assert done.status_code == 200 and done.json()["trade_state"] == "SUCCESS"
    [notice] = receiver.wait_for(1)
    event = wxpay.callback(notice.headers, notice.body)
    assert event is not None and event["resource"]["out_trade_no"] == slow
    time.sleep(0.3)  # a PAYERROR or NOTENOUGH notification would have arrived by now
    assert len(receiver.requests) == 1 and len(emu.notifications()) == 1


def test_certificate_bootstrap_downloads_platform_certificate(
    merchants: dict[str, dict[str, Any]], wxpay_for: Any, emu: Any, receiver: Any, trade_no: Any
) -> None:
    """Without cert_dir, wechatpayv3 fetches GET /v3/certificates in its constructor and keeps the
    decrypted platform certificate; every later answer verifies against it."""
    merchant = merchants["cert"]
    client = wxpay_for(emu.url, merchant, receiver.url, bootstrap=True)
    certificates = client._core._certificates
    assert [c.serial_number for c in certificates] == [int(merchant["platform_serial"], 16)]
    pem = certificates[0].public_bytes(serialization.Encoding.PEM)
    assert pem.decode() == merchant["wechatpay_cert.pem"]
    out_trade_no = trade_no("BOOT")
    code, placed = place(client, "NATIVE", out_trade_no)
    assert code == 200, placed

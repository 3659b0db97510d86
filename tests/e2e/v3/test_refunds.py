"""APIv3 refunds through wechatpayv3 2.0.4, unmodified, against the real emulator process.

``refund``, ``query_refund`` and ``callback`` on the REFUND.* notifications; the order read back as
REFUND with ``query``; partner refunds with ``sub_mchid``; a combine sub-order refunded through its own
merchant; the control plane's outcomes (ABNORMAL, CLOSED) and the CLI. Refunds stay PROCESSING for 60 s
of emulator time here, so the tests move the clock to let them succeed.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from wechatpayv3 import WeChatPay, WeChatPayType

from tests.support.v3 import paid_order, sdk_json

Emu = Any
Receiver = Any

REFUND_DELAY = 60
MODES = ["pubkey", "cert"]
REFUND_KEYS = {
    "refund_id",
    "out_refund_no",
    "transaction_id",
    "out_trade_no",
    "channel",
    "user_received_account",
    "create_time",
    "status",
    "funds_account",
    "amount",
    "promotion_detail",
}
AMOUNT_KEYS = {
    "total",
    "refund",
    "from",
    "payer_total",
    "payer_refund",
    "settlement_refund",
    "settlement_total",
    "discount_refund",
    "currency",
    "refund_fee",
}


@pytest.fixture(scope="module")
def emulator_env() -> dict[str, str]:
    return {
        "WXPAY_EMULATOR_NOTIFY_TIME_SCALE": "0.01",
        "WXPAY_EMULATOR_REFUND_DELAY_SECONDS": str(REFUND_DELAY),
    }


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def pk(merchants: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return merchants["pubkey"]


@pytest.fixture
def wxpay(make_wxpay: Callable[[str, str], WeChatPay], receiver: Receiver) -> WeChatPay:
    return make_wxpay("pubkey", receiver.url)


def new_no(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(10)}"[:32]


def refund(
    wxpay: WeChatPay, out_trade_no: str, amount: int, total: int = 100, **extra: Any
) -> tuple[int, dict[str, Any]]:
    extra.setdefault("out_refund_no", new_no("RF"))
    money = {"refund": amount, "total": total, "currency": "CNY"}
    return sdk_json(wxpay.refund(amount=money, out_trade_no=out_trade_no, **extra))


def advance(emu: Emu, seconds: float) -> None:
    response = emu.control("POST", "/clock", json={"advance_seconds": seconds})
    assert response.status_code == 200, response.text


def refund_events(wxpay: WeChatPay, receiver: Receiver, n: int) -> list[dict[str, Any]]:
    """Wait for ``n`` REFUND.* notifications and return them verified and decrypted by wechatpayv3."""

    def events() -> list[dict[str, Any]]:
        out = []
        for r in receiver.requests:
            if json.loads(r.body)["event_type"].startswith("REFUND."):
                event = wxpay.callback(r.headers, r.body)
                assert event is not None, "wechatpayv3 could not verify or decrypt the notification"
                out.append(event)
        return out

    receiver.wait_for(1)
    found = events()
    for _ in range(300):
        if len(found) >= n:
            break
        receiver.wait_for(len(receiver.requests) + 1)
        found = events()
    assert len(found) == n, found
    return found


def outcome(emu: Emu, mchid: str, out_refund_no: str, status: str) -> dict[str, Any]:
    response = emu.control("POST", f"/refunds/{out_refund_no}", json={"mchid": mchid, "status": status})
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def test_full_refund_succeeds_notifies_and_the_order_reads_refund(
    mode: str,
    make_wxpay: Callable[[str, str], WeChatPay],
    merchants: dict[str, dict[str, Any]],
    emu: Emu,
    receiver: Receiver,
) -> None:
    merchant = merchants[mode]
    wxpay = make_wxpay(mode, receiver.url)
    out_trade_no = new_no("RFD")
    paid_order(wxpay, emu, merchant["mchid"], out_trade_no, total=2345, description="退款测试")
    code, order = sdk_json(wxpay.query(out_trade_no=out_trade_no))
    assert code == 200 and order["trade_state"] == "SUCCESS"

    code, created = refund(wxpay, out_trade_no, 2345, total=2345, reason="商品已售完")
    assert code == 200, created
    assert set(created) == REFUND_KEYS and set(created["amount"]) == AMOUNT_KEYS
    assert created["status"] == "PROCESSING" and created["channel"] == "ORIGINAL"
    assert created["transaction_id"] == order["transaction_id"] and created["out_trade_no"] == out_trade_no
    assert len(created["refund_id"]) == 29
    assert created["amount"]["refund"] == created["amount"]["payer_refund"] == 2345
    assert created["amount"]["total"] == 2345 and created["amount"]["currency"] == "CNY"
    assert created["promotion_detail"] == []

    code, queried = sdk_json(wxpay.query_refund(created["out_refund_no"]))
    assert code == 200 and queried == created

    advance(emu, REFUND_DELAY + 1)
    code, done = sdk_json(wxpay.query_refund(created["out_refund_no"]))
    assert code == 200 and done["status"] == "SUCCESS", done
    assert done["success_time"] and done["user_received_account"] == "支付用户零钱"
    assert done["refund_id"] == created["refund_id"]

    [event] = refund_events(wxpay, receiver, 1)
    assert event["event_type"] == "REFUND.SUCCESS" and event["summary"] == "退款成功"
    assert event["resource_type"] == "encrypt-resource"
    assert event["resource"] == {
        "mchid": merchant["mchid"],
        "out_trade_no": out_trade_no,
        "transaction_id": order["transaction_id"],
        "out_refund_no": created["out_refund_no"],
        "refund_id": created["refund_id"],
        "refund_status": "SUCCESS",
        "success_time": done["success_time"],
        "user_received_account": "支付用户零钱",
        "amount": {"total": 2345, "refund": 2345, "payer_total": 2345, "payer_refund": 2345},
    }

    code, after = sdk_json(wxpay.query(out_trade_no=out_trade_no))
    assert code == 200 and after["trade_state"] == "REFUND"
    assert after["trade_state_desc"] == "订单发生过退款，退款详情请查询退款单"


def test_two_partial_refunds_then_an_over_refund_is_refused(
    wxpay: WeChatPay, pk: dict[str, Any], emu: Emu
) -> None:
    out_trade_no = new_no("RFD")
    paid_order(wxpay, emu, pk["mchid"], out_trade_no, description="退款测试")
    assert refund(wxpay, out_trade_no, 30)[0] == 200
    code, second = refund(wxpay, out_trade_no, 60)
    assert code == 200 and second["status"] == "PROCESSING"
    code, over = refund(wxpay, out_trade_no, 11)
    assert (code, over["code"]) == (400, "INVALID_REQUEST"), over
    assert "可退金额" in over["message"]
    assert refund(wxpay, out_trade_no, 10)[0] == 200
    advance(emu, REFUND_DELAY + 1)
    listed = emu.orders_with(out_trade_no)[0]
    assert listed["transaction"]["trade_state"] == "REFUND"
    assert sorted(r["amount"]["refund"] for r in listed["refunds"]) == [10, 30, 60]
    assert {r["status"] for r in listed["refunds"]} == {"SUCCESS"}


def test_refund_of_an_unpaid_or_unknown_order_is_refused(wxpay: WeChatPay, emu: Emu) -> None:
    out_trade_no = new_no("UNPAID")
    code, _ = sdk_json(
        wxpay.pay(
            out_trade_no=out_trade_no, amount={"total": 100}, pay_type=WeChatPayType.NATIVE, description="x"
        )
    )
    assert code == 200
    for number in (out_trade_no, new_no("NOSUCH")):
        code, body = refund(wxpay, number, 100)
        assert (code, body["code"]) == (404, "RESOURCE_NOT_EXISTS"), body
    code, body = sdk_json(wxpay.query_refund(new_no("NOSUCHREFUND")))
    assert (code, body["code"]) == (404, "RESOURCE_NOT_EXISTS"), body


def test_refund_rules_on_total_and_period(wxpay: WeChatPay, pk: dict[str, Any], emu: Emu) -> None:
    out_trade_no = new_no("RFD")
    paid_order(wxpay, emu, pk["mchid"], out_trade_no, description="退款测试")
    code, body = refund(wxpay, out_trade_no, 10, total=99)
    assert (code, body["code"]) == (400, "INVALID_REQUEST"), body
    code, body = refund(wxpay, out_trade_no, 0)
    assert (code, body["code"]) == (400, "PARAM_ERROR"), body
    assert body["detail"]["field"] == "amount.refund"
    advance(emu, 366 * 86400)
    code, body = refund(wxpay, out_trade_no, 10)
    assert (code, body["code"]) == (400, "INVALID_REQUEST"), body
    assert "一年" in body["message"]


def test_a_repeated_out_refund_no(wxpay: WeChatPay, pk: dict[str, Any], emu: Emu) -> None:
    out_trade_no = new_no("RFD")
    paid_order(wxpay, emu, pk["mchid"], out_trade_no, description="退款测试")
    code, first = refund(wxpay, out_trade_no, 40, out_refund_no="SAME_NO_1")
    assert code == 200
    code, again = refund(wxpay, out_trade_no, 40, out_refund_no="SAME_NO_1")
    assert code == 200 and again == first
    code, other = refund(wxpay, out_trade_no, 41, out_refund_no="SAME_NO_1")
    assert (code, other["code"]) == (400, "INVALID_REQUEST"), other
    # Only one refund was made: 60 fen are still refundable.
    assert refund(wxpay, out_trade_no, 60)[0] == 200


def test_abnormal_refund_by_the_control_plane(
    wxpay: WeChatPay, pk: dict[str, Any], emu: Emu, receiver: Receiver
) -> None:
    out_trade_no = new_no("RFD")
    paid_order(wxpay, emu, pk["mchid"], out_trade_no, description="退款测试")
    code, created = refund(wxpay, out_trade_no, 100)
    assert code == 200
    view = outcome(emu, pk["mchid"], created["out_refund_no"], "ABNORMAL")
    assert view["refund"]["status"] == "ABNORMAL"
    [event] = refund_events(wxpay, receiver, 1)
    assert event["event_type"] == "REFUND.ABNORMAL" and event["summary"] == "退款异常"
    assert event["resource"]["refund_status"] == "ABNORMAL" and "success_time" not in event["resource"]
    code, queried = sdk_json(wxpay.query_refund(created["out_refund_no"]))
    assert code == 200 and queried["status"] == "ABNORMAL" and "success_time" not in queried
    # The money did not come back: the order is still SUCCESS, and nothing more is refundable.
    assert sdk_json(wxpay.query(out_trade_no=out_trade_no))[1]["trade_state"] == "SUCCESS"
    assert refund(wxpay, out_trade_no, 1)[0] == 400
    response = emu.control(
        "POST", f"/refunds/{created['out_refund_no']}", json={"mchid": pk["mchid"], "status": "SUCCESS"}
    )
    assert response.status_code == 409 and response.json()["code"] == "ILLEGAL_TRANSITION"


def test_closed_refund_gives_the_amount_back(
    wxpay: WeChatPay, pk: dict[str, Any], emu: Emu, receiver: Receiver
) -> None:
    out_trade_no = new_no("RFD")
    paid_order(wxpay, emu, pk["mchid"], out_trade_no, description="退款测试")
    code, created = refund(wxpay, out_trade_no, 100)
    assert code == 200
    assert outcome(emu, pk["mchid"], created["out_refund_no"], "CLOSED")["refund"]["status"] == "CLOSED"
    [event] = refund_events(wxpay, receiver, 1)
    assert event["event_type"] == "REFUND.CLOSED" and event["summary"] == "退款关闭"
    code, again = refund(wxpay, out_trade_no, 100)
    assert code == 200 and again["status"] == "PROCESSING"
    listed = emu.control("GET", "/refunds", params={"mchid": pk["mchid"]}).json()["data"]
    assert sorted(r["refund"]["status"] for r in listed) == ["CLOSED", "PROCESSING"]


def test_partner_refund_with_sub_mchid(
    emulator_process: Any, merchants: dict[str, dict[str, Any]], emu: Emu, receiver: Receiver
) -> None:
    provider = merchants["cert"]
    sub = emulator_process.create_merchant(sp_mchid=provider["mchid"])
    wxpay = WeChatPay(
        wechatpay_type=WeChatPayType.NATIVE,
        mchid=provider["mchid"],
        private_key=provider["apiclient_key.pem"],
        cert_serial_no=provider["serial_no"],
        apiv3_key=provider["apiv3_key"],
        appid=provider["appid"],
        notify_url=receiver.url,
        cert_dir=provider["folder"] + "/certs/",
        partner_mode=True,
        timeout=(5, 30),
    )
    wxpay._core._gate_way = emu.url
    out_trade_no = new_no("RFD")
    paid_order(
        wxpay, emu, sub["mchid"], out_trade_no, total=88, sub_mchid=sub["mchid"], description="退款测试"
    )
    code, created = refund(wxpay, out_trade_no, 88, total=88, sub_mchid=sub["mchid"])
    assert code == 200, created
    code, queried = sdk_json(wxpay.query_refund(created["out_refund_no"], sub_mchid=sub["mchid"]))
    assert code == 200 and queried["out_trade_no"] == out_trade_no
    # Another provider's sub-merchant, or none named: not this provider's refund.
    stranger = merchants["pubkey"]["mchid"]
    code, body = sdk_json(wxpay.query_refund(created["out_refund_no"], sub_mchid=stranger))
    assert code in (400, 403) and body["code"] in ("NO_AUTH", "MCH_NOT_EXISTS"), body
    advance(emu, REFUND_DELAY + 1)
    [event] = refund_events(wxpay, receiver, 1)
    assert event["resource"]["sp_mchid"] == provider["mchid"]
    assert event["resource"]["sub_mchid"] == sub["mchid"] and "mchid" not in event["resource"]
    code, order = sdk_json(wxpay.query(out_trade_no=out_trade_no, sub_mchid=sub["mchid"]))
    assert code == 200 and order["trade_state"] == "REFUND"


def test_a_combine_sub_order_is_refunded_through_its_own_merchant(
    emulator_process: Any,
    merchants: dict[str, dict[str, Any]],
    wxpay_for: Callable[..., WeChatPay],
    emu: Emu,
    receiver: Receiver,
) -> None:
    initiator = merchants["pubkey"]
    bound = emulator_process.create_merchant(appids=[initiator["appid"]])
    wxpay = wxpay_for(emu.url, initiator, receiver.url)
    combine_out_trade_no = new_no("CMB")
    subs = [
        {
            "mchid": m["mchid"],
            "attach": "分店",
            "amount": {"total_amount": total, "currency": "CNY"},
            "out_trade_no": new_no("SUB"),
            "description": "腾讯充值中心-QQ会员充值",
        }
        for m, total in ((initiator, 10), (bound, 20))
    ]
    code, placed = sdk_json(
        wxpay.combine_pay(
            combine_out_trade_no=combine_out_trade_no,
            sub_orders=subs,
            pay_type=WeChatPayType.NATIVE,
            scene_info={"payer_client_ip": "14.17.22.32"},
        )
    )
    assert code == 200, placed
    paid = emu.control(
        "POST",
        "/payments",
        json={"combine_mchid": initiator["mchid"], "combine_out_trade_no": combine_out_trade_no},
    )
    assert paid.status_code == 200, paid.text
    code, own = refund(wxpay, subs[0]["out_trade_no"], 10, total=10)
    assert code == 200, own
    bound_wxpay = wxpay_for(emu.url, bound, receiver.url)
    code, theirs = refund(bound_wxpay, subs[1]["out_trade_no"], 20, total=20)
    assert code == 200, theirs
    # The initiator cannot refund another merchant's sub-order.
    code, body = refund(wxpay, subs[1]["out_trade_no"], 20, total=20)
    assert (code, body["code"]) == (404, "RESOURCE_NOT_EXISTS"), body
    advance(emu, REFUND_DELAY + 1)
    assert sdk_json(bound_wxpay.query_refund(theirs["out_refund_no"]))[1]["status"] == "SUCCESS"
    code, combine = sdk_json(wxpay.combine_query(combine_out_trade_no))
    assert code == 200
    assert [s["trade_state"] for s in combine["sub_orders"]] == ["REFUND", "REFUND"]


def test_cli_refund_and_orders(emulator_process: Any, pk: dict[str, Any], wxpay: WeChatPay, emu: Emu) -> None:
    out_trade_no = new_no("RFD")
    paid_order(wxpay, emu, pk["mchid"], out_trade_no, total=500, description="退款测试")
    env = {
        **os.environ,
        "WXPAY_EMULATOR_URL": emulator_process.url,
        "WXPAY_EMULATOR_DATA_DIR": str(emulator_process.data_dir),
        "COLUMNS": "400",  # rich wraps table cells to the terminal's width
    }

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "wxpay_emulator", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )

    done = cli(
        "refund", out_trade_no, "--amount", "120", "--mchid", pk["mchid"], "--out-refund-no", "CLI_RF_1"
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["refund"]["status"] == "PROCESSING"
    over = cli("refund", out_trade_no, "--amount", "381", "--mchid", pk["mchid"])
    assert over.returncode == 1 and "REFUND_AMOUNT_EXCEEDED" in over.stdout
    listing = cli("orders", "--mchid", pk["mchid"])
    assert listing.returncode == 0, listing.stderr
    assert "CLI_RF_1 120 PROCESSING" in listing.stdout


def test_param_errors_and_injected_wechat_side_codes(
    v3api: Callable[[dict[str, Any]], Any], pk: dict[str, Any], wxpay: WeChatPay, emu: Emu
) -> None:
    api = v3api(pk)
    out_trade_no = new_no("RFD")
    paid_order(wxpay, emu, pk["mchid"], out_trade_no, description="退款测试")
    base = {"out_refund_no": new_no("RF"), "amount": {"refund": 1, "total": 100, "currency": "CNY"}}
    cases: list[tuple[dict[str, Any], str]] = [
        (base, "transaction_id"),  # neither transaction_id nor out_trade_no
        ({**base, "out_trade_no": out_trade_no, "out_refund_no": "bad no!"}, "out_refund_no"),
        ({**base, "out_trade_no": out_trade_no, "amount": {"refund": 1, "total": 100}}, "amount.currency"),
        ({**base, "out_trade_no": out_trade_no, "reason": "x" * 81}, "reason"),
    ]
    for body, field in cases:
        response = api.request("POST", "/v3/refund/domestic/refunds", body)
        assert response.status_code == 400, response.text
        assert response.json()["code"] == "PARAM_ERROR" and response.json()["detail"]["field"] == field
        api.assert_signed(response)
    response = api.request("GET", "/v3/refund/domestic/refunds/bad%20no")
    assert response.status_code == 400 and response.json()["code"] == "PARAM_ERROR", response.text

    armed = emu.control(
        "POST", "/faults", json={"operation": "refund.create", "code": "USER_ACCOUNT_ABNORMAL"}
    )
    assert armed.status_code == 201, armed.text
    try:
        code, body = refund(wxpay, out_trade_no, 1)
        assert (code, body["code"]) == (403, "USER_ACCOUNT_ABNORMAL"), body
    finally:
        assert emu.control("DELETE", "/faults").status_code == 200
    assert refund(wxpay, out_trade_no, 1)[0] == 200

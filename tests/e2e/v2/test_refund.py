"""APIv2 refunds end to end: wechatpy's refund.apply / refund.query against the real process, the v2
refund notification (req_info AES-256-ECB) decrypted by wechatpy. The /secapi/ client certificate
check in TLS mode is in tests/e2e/server/test_tls_trust.py (one TLS process for all TLS checks)."""

from __future__ import annotations

from typing import Any

import pytest
from wechatpy.exceptions import WeChatPayException
from wechatpy.pay import WeChatPay as WeChatPayV2

from tests.support.common import DEFAULT_MCHID, FAST_NOTIFY, new_trade_no
from tests.support.emulator import Emu
from tests.support.receiver import Receiver
from tests.support.v2 import paid_order
from wxpay_emulator.testing import EmulatorProcess

CLIENT_IP = "127.0.0.1"
DELAY = 60  # a refund is PROCESSING for this long on the business clock
XML_OK = ("text/xml", b"<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg>OK</return_msg></xml>")


@pytest.fixture(scope="module")
def emulator_env() -> dict[str, str]:
    return {**FAST_NOTIFY, "WXPAY_EMULATOR_REFUND_DELAY_SECONDS": str(DELAY)}


def client_of(process: EmulatorProcess, mchid: str = DEFAULT_MCHID, **kw: Any) -> WeChatPayV2:
    m = process.merchant(mchid)
    client = WeChatPayV2(m["appid"], m["api_key"], m["mchid"], timeout=10, **kw)
    client.API_BASE_URL = process.url + "/"
    return client


def test_partial_refunds_query_and_notification(
    emulator_process: EmulatorProcess, emu: Emu, receiver: Receiver
) -> None:
    client = client_of(emulator_process)
    receiver.reply = lambda _status: XML_OK
    out_trade_no = paid_order(client, emu)
    first = client.refund.apply(
        100, 40, "R1" + out_trade_no, out_trade_no=out_trade_no, notify_url=receiver.url
    )
    assert first["result_code"] == "SUCCESS" and first["refund_fee"] == "40" and first["refund_id"]
    second = client.refund.apply(
        100, 60, "R2" + out_trade_no, out_trade_no=out_trade_no, notify_url=receiver.url
    )
    with pytest.raises(WeChatPayException) as over:
        client.refund.apply(100, 1, "R3" + out_trade_no, out_trade_no=out_trade_no)
    assert over.value.errcode == "ERROR" and "可退" in (over.value.errmsg or "")

    queried = client.refund.query(out_trade_no=out_trade_no)
    assert queried["refund_count"] == "2"
    assert {queried["refund_status_0"], queried["refund_status_1"]} == {"PROCESSING"}
    assert client.order.query(out_trade_no=out_trade_no)["trade_state"] == "SUCCESS"

    emu.control("POST", "/clock", json={"advance_seconds": DELAY + 1})
    by_no = client.refund.query(out_refund_no="R2" + out_trade_no)
    assert by_no["refund_count"] == "1" and by_no["refund_status_0"] == "SUCCESS"
    assert by_no["refund_id_0"] == second["refund_id"] and len(by_no["refund_success_time_0"]) == 19
    by_id = client.refund.query(refund_id=first["refund_id"])
    assert by_id["out_refund_no_0"] == "R1" + out_trade_no
    assert client.order.query(out_trade_no=out_trade_no)["trade_state"] == "REFUND"

    got = receiver.wait_for(2)
    notices = [client.parse_refund_notify_result(r.body) for r in got]
    assert {n["out_refund_no"] for n in notices} == {"R1" + out_trade_no, "R2" + out_trade_no}
    assert all(n["refund_status"] == "SUCCESS" and n["total_fee"] == 100 for n in notices)
    assert sorted(n["refund_fee"] for n in notices) == [40, 60]


def test_refund_rules(emulator_process: EmulatorProcess, emu: Emu) -> None:
    client = client_of(emulator_process)
    unpaid = new_trade_no("RF")
    client.order.create(
        "NATIVE",
        "未支付",
        100,
        "http://127.0.0.1:9/n",
        client_ip=CLIENT_IP,
        product_id="p",
        out_trade_no=unpaid,
    )
    with pytest.raises(WeChatPayException) as not_paid:
        client.refund.apply(100, 10, "U" + unpaid, out_trade_no=unpaid)
    assert not_paid.value.errcode == "ORDERNOTEXIST"

    out_trade_no = paid_order(client, emu)
    again = client.refund.apply(100, 10, "S" + out_trade_no, out_trade_no=out_trade_no)
    assert (
        client.refund.apply(100, 10, "S" + out_trade_no, out_trade_no=out_trade_no)["refund_id"]
        == again["refund_id"]
    )
    with pytest.raises(WeChatPayException) as changed:
        client.refund.apply(100, 11, "S" + out_trade_no, out_trade_no=out_trade_no)
    assert changed.value.errcode == "INVALID_REQUEST"
    with pytest.raises(WeChatPayException) as wrong_total:
        client.refund.apply(99, 10, "T" + out_trade_no, out_trade_no=out_trade_no)
    assert wrong_total.value.errcode == "INVALID_REQUEST"
    with pytest.raises(WeChatPayException) as nothing:
        client.refund.query(out_refund_no="NOSUCHREFUND")
    assert nothing.value.errcode == "REFUNDNOTEXIST"

    transaction_id = client.order.query(out_trade_no=out_trade_no)["transaction_id"]
    by_tx = client.refund.apply(100, 5, "X" + out_trade_no, transaction_id=transaction_id)
    assert by_tx["out_trade_no"] == out_trade_no


def test_abnormal_refund_and_v3_order(
    emulator_process: EmulatorProcess, emu: Emu, receiver: Receiver, v3api: Any
) -> None:
    client = client_of(emulator_process)
    receiver.reply = lambda _status: XML_OK
    out_trade_no = paid_order(client, emu)
    client.refund.apply(100, 30, "A" + out_trade_no, out_trade_no=out_trade_no, notify_url=receiver.url)
    outcome = emu.control(
        "POST", f"/refunds/A{out_trade_no}", json={"mchid": DEFAULT_MCHID, "status": "ABNORMAL"}
    )
    assert outcome.status_code == 200, outcome.text
    assert client.refund.query(out_refund_no="A" + out_trade_no)["refund_status_0"] == "CHANGE"
    notice = client.parse_refund_notify_result(receiver.wait_for(1)[0].body)
    assert notice["refund_status"] == "CHANGE"

    # One store: an order placed through APIv3 is refunded through APIv2.
    api = v3api(emulator_process.merchant(DEFAULT_MCHID))
    v3_no = new_trade_no("V3")
    placed = api.request(
        "POST", "/v3/pay/transactions/native", api.prepay_body(v3_no, "https://127.0.0.1/n", payer=None)
    )
    assert placed.status_code == 200, placed.text
    emu.pay(mchid=DEFAULT_MCHID, out_trade_no=v3_no)
    assert client.refund.apply(100, 100, "F" + v3_no, out_trade_no=v3_no)["result_code"] == "SUCCESS"

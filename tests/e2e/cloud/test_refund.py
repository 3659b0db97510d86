"""Cloud refunds end to end: hosting ``/_/pay/refund`` + ``/_/pay/queryrefund`` (v2 names, snake_case)
and cloud functions ``/_/cloudpay/refund`` + ``/_/cloudpay/queryRefund`` (camelCase), against the real
process. Orders are placed and paid as tests/e2e/cloud/test_flow.py does; refunds stay PROCESSING
until the business clock passes the module's refund delay (60 s), and their callbacks reach a local HTTP
server standing in for the container service or cloud function.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.cloud.test_flow import (
    SEED_001,
    SEED_001_KEYS,
    SEED_003,
    CloudReceiver,
    function,
    hosting,
    register_function,
    register_service,
    respdata,
    v2_md5,
)
from tests.support.cloud import MINI_APPID, PROVIDER, Parties, make_parties
from tests.support.common import FAST_NOTIFY, new_trade_no, poll
from tests.support.emulator import Emu
from wxpay_emulator.testing import EmulatorProcess

REFUND_DELAY = 60
REFUND_KEYS = [
    *SEED_001_KEYS[: SEED_001_KEYS.index("result_code") + 1],  # the envelope every answer starts with
    "transaction_id",
    "out_trade_no",
    "out_refund_no",
    "refund_id",
    "refund_fee",
    "total_fee",
    "cash_fee",
    "cash_refund_fee",
    "coupon_refund_fee",
    "coupon_refund_count",
    "coupon_type_list",
    "coupon_refund_id_list",
    "coupon_refund_fee_list",
]
CHINA_TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
ENV = "env-refund"


@pytest.fixture(scope="module")
def emulator_env() -> dict[str, str]:
    return {**FAST_NOTIFY, "WXPAY_EMULATOR_REFUND_DELAY_SECONDS": str(REFUND_DELAY)}


@pytest.fixture
def cloud_receiver() -> Iterator[CloudReceiver]:
    r = CloudReceiver()
    try:
        yield r
    finally:
        r.close()


@pytest.fixture(scope="module")
def parties(emulator_process: EmulatorProcess, control_http: httpx.Client) -> Parties:
    return make_parties(Emu(emulator_process, control_http))


def failure(data: dict[str, Any], key: str) -> tuple[str, str]:
    """(err_code, err_code_des) of a signed result_code FAIL answer."""
    assert data["return_code"] == "SUCCESS" and data["result_code"] == "FAIL", data
    assert data["sign"] == v2_md5(data, key)
    return data["err_code"], data["err_code_des"]


def paid_hosting_order(emu: Emu, total: int) -> dict[str, Any]:
    """A cloud-hosting order paid by the simulated payer; its callback goes to service "pay"."""
    order = {**SEED_001, "out_trade_no": new_trade_no("CR"), "env_id": ENV, "total_fee": total}
    placed = respdata(hosting(emu, "unifiedorder", order))
    assert placed["result_code"] == "SUCCESS", placed
    paid = emu.pay(prepay_id=placed["prepay_id"])
    assert paid.status_code == 200, paid.text
    return order


def advance(emu: Emu, seconds: float) -> None:
    r = emu.control("POST", "/clock", json={"advance_seconds": seconds})
    assert r.status_code == 200, r.text


def delivered(emu: Emu, family: str, n: int) -> list[dict[str, Any]]:
    return poll(
        lambda: [x for x in emu.notifications() if x["family"] == family],
        lambda ns: len(ns) == n and all(x["status"] == "DELIVERED" for x in ns),
        f"{n} {family} callbacks to be acknowledged",
    )


def test_hosting_partial_refunds_query_callbacks_and_order_state(
    emu: Emu, parties: Parties, cloud_receiver: CloudReceiver
) -> None:
    key = parties.provider_key
    register_service(emu, ENV, "pay", cloud_receiver.base + "/paid")
    register_service(emu, ENV, "refunds", cloud_receiver.base + "/svc")
    order = paid_hosting_order(emu, 100)
    delivered(emu, "cloud", 1)
    ref = {"sub_mch_id": parties.sub, "out_trade_no": order["out_trade_no"]}
    callback = {"env_id": ENV, "callback_type": 2, "container": {"service": "refunds", "path": "/done"}}
    first = {**ref, "out_refund_no": "R1_" + order["out_trade_no"], "total_fee": 100, "refund_fee": 30}
    first.update(refund_desc="商品缺货", **callback)

    cloud_receiver.plan = [(200, {"errcode": -1, "errmsg": "busy"})]  # the first refund callback fails once
    made = respdata(hosting(emu, "refund", first))
    assert list(made) == REFUND_KEYS, made
    assert made["return_code"] == made["result_code"] == "SUCCESS" and made["return_msg"] == "OK"
    assert made["mch_id"] == PROVIDER and made["sub_mch_id"] == parties.sub
    assert made["appid"] == made["sub_appid"] == MINI_APPID
    assert made["out_trade_no"] == order["out_trade_no"] and len(made["transaction_id"]) == 28
    assert made["out_refund_no"] == first["out_refund_no"] and made["refund_id"]
    assert made["refund_fee"] == made["cash_refund_fee"] == 30
    assert made["total_fee"] == made["cash_fee"] == 100
    assert made["sign"] == v2_md5(made, key)

    # The same out_refund_no: the same refund with the same parameters, refused with others.
    again = respdata(hosting(emu, "refund", first))
    assert again["result_code"] == "SUCCESS" and again["refund_id"] == made["refund_id"]
    code, _ = failure(respdata(hosting(emu, "refund", {**first, "refund_fee": 31})), key)
    assert code == "INVALID_REQUEST"

    # A second partial refund, naming the order by transaction_id, without a callback.
    second = {
        "sub_mch_id": parties.sub,
        "transaction_id": made["transaction_id"],
        "out_refund_no": "R2_" + order["out_trade_no"],
        "total_fee": 100,
        "refund_fee": 50,
    }
    made2 = respdata(hosting(emu, "refund", second))
    assert made2["result_code"] == "SUCCESS" and made2["refund_id"] != made["refund_id"]
    over = {**second, "out_refund_no": "R3_" + order["out_trade_no"], "refund_fee": 21}
    code, des = failure(respdata(hosting(emu, "refund", over)), key)
    assert code == "ERROR" and "20" in des, des  # 20 fen are left to refund

    query = respdata(hosting(emu, "queryrefund", ref))
    assert query["sign"] == v2_md5(query, key) and query["result_code"] == "SUCCESS"
    assert query["refund_count"] == 2 and "total_refund_count" not in query
    # The cloud's refundquery lists (where v2 numbers out_refund_no_$n).
    assert query["out_refund_no_list"] == [first["out_refund_no"], second["out_refund_no"]]
    assert query["refund_fee_list"] == [30, 50] and "out_refund_no_0" not in query
    assert query["refund_status_list"] == ["PROCESSING", "PROCESSING"]
    assert query["refund_success_time_list"] == ["", ""]
    state = respdata(hosting(emu, "queryorder", ref))
    assert state["trade_state"] == "SUCCESS"

    advance(emu, REFUND_DELAY + 1)
    done = poll(
        lambda: respdata(hosting(emu, "queryRefund", ref)),
        lambda q: q.get("refund_status_list") == ["SUCCESS", "SUCCESS"],
        "both refunds to succeed",
    )
    assert CHINA_TIME.match(done["refund_success_time_list"][0]) and done["refund_recv_accout_list"][0]
    assert done["refund_id_list"][1] == made2["refund_id"]
    assert respdata(hosting(emu, "queryorder", ref))["trade_state"] == "REFUND"

    (n,) = delivered(emu, "cloudrefund", 1)  # only the first refund named a callback
    assert n["event_type"] == "REFUND.SUCCESS" and n["attempts"] == 2, n
    calls = [c for c in cloud_receiver.received() if c.path == "/svc/done"]
    assert len(calls) == 2 and calls[0].body == calls[1].body
    body = calls[0].body
    assert body["returnCode"] == "SUCCESS" and body["mchId"] == PROVIDER
    assert body["subMchId"] == parties.sub and body["appid"] == body["subAppid"] == MINI_APPID
    assert body["refundId"] == made["refund_id"] and body["outRefundNo"] == first["out_refund_no"]
    assert body["outTradeNo"] == order["out_trade_no"] and body["transactionId"] == made["transaction_id"]
    assert body["totalFee"] == 100 and body["refundFee"] == 30 and body["refundStatus"] == "SUCCESS"
    assert CHINA_TIME.match(body["successTime"]) and body["refundRecvAccout"]
    assert body["refundRequestSource"] == "API" and body["refundAccount"] == "REFUND_SOURCE_UNSETTLED_FUNDS"
    assert body["nonceStr"] and "req_info" not in body

    # One refund by out_refund_no or refund_id; an unknown one is REFUNDNOTEXIST.
    one = respdata(hosting(emu, "queryrefund", {"sub_mch_id": parties.sub, "refund_id": made2["refund_id"]}))
    assert one["refund_count"] == 1 and one["out_refund_no_list"] == [second["out_refund_no"]]
    paged = respdata(hosting(emu, "queryrefund", {**ref, "offset": 1}))
    assert paged["total_refund_count"] == 2 and paged["refund_count"] == 1
    assert paged["out_refund_no_list"] == [second["out_refund_no"]]
    beyond = respdata(hosting(emu, "queryrefund", {**ref, "offset": 2}))
    assert failure(beyond, key)[0] == "PARAM_ERROR"  # an offset past total_refund_count
    unknown = {"sub_mch_id": parties.sub, "out_refund_no": "NOPE_" + order["out_trade_no"]}
    assert failure(respdata(hosting(emu, "queryrefund", unknown)), key)[0] == "REFUNDNOTEXIST"


def test_hosting_refusals(emu: Emu, parties: Parties) -> None:
    key = parties.provider_key
    unpaid = {**SEED_001, "out_trade_no": new_trade_no("CRU"), "env_id": ENV}
    assert respdata(hosting(emu, "unifiedorder", unpaid))["result_code"] == "SUCCESS"
    ref = {"sub_mch_id": parties.sub, "out_trade_no": unpaid["out_trade_no"]}
    refund = {**ref, "out_refund_no": new_trade_no("RU"), "total_fee": 1, "refund_fee": 1}

    code, des = failure(respdata(hosting(emu, "refund", refund)), key)
    assert code == "ORDERNOTEXIST" and "未支付" in des, des
    assert failure(respdata(hosting(emu, "queryrefund", ref)), key)[0] == "REFUNDNOTEXIST"
    missing_order = {**ref, "out_trade_no": new_trade_no("NONE")}
    assert failure(respdata(hosting(emu, "refund", {**refund, **missing_order})), key)[0] == "ORDERNOTEXIST"
    assert failure(respdata(hosting(emu, "queryrefund", missing_order)), key)[0] == "REFUNDNOTEXIST"

    order = paid_hosting_order(emu, 10)
    paid_ref = {**refund, "out_trade_no": order["out_trade_no"], "total_fee": 10, "refund_fee": 11}
    assert failure(respdata(hosting(emu, "refund", paid_ref)), key)[0] == "ERROR"
    code, des = failure(respdata(hosting(emu, "refund", {**paid_ref, "total_fee": 9, "refund_fee": 1})), key)
    assert code == "INVALID_REQUEST" and des != "参数错误", des  # the order's total is 10

    for name in ("out_refund_no", "total_fee", "refund_fee", "sub_mch_id"):
        lacking = {k: v for k, v in paid_ref.items() if k != name}
        assert failure(respdata(hosting(emu, "refund", lacking)), key) == ("LACK_PARAMS", "缺少参数"), name
    no_order = {k: v for k, v in paid_ref.items() if k != "out_trade_no"}
    assert failure(respdata(hosting(emu, "refund", no_order)), key)[0] == "LACK_PARAMS"
    assert (
        failure(respdata(hosting(emu, "queryrefund", {"sub_mch_id": parties.sub})), key)[0] == "LACK_PARAMS"
    )
    for bad in ({"refund_fee": "1"}, {"refund_fee": 0}, {"refund_account": "X"}, {"out_refund_no": "a b"}):
        code, _ = failure(respdata(hosting(emu, "refund", {**paid_ref, **bad})), key)
        assert code == "INVALID_REQUEST", bad
    no_env = {**paid_ref, "refund_fee": 1, "callback_type": 1, "function_name": "fn"}
    assert failure(respdata(hosting(emu, "refund", no_env)), key)[0] == "LACK_PARAMS"
    stranger = {**paid_ref, "sub_mch_id": "1999999999", "refund_fee": 1}
    assert failure(respdata(hosting(emu, "refund", stranger)), key)[0] == "MCHID_NOT_EXIST"

    for raw in (b"[1]", b"{not json"):
        r = hosting(emu, "refund", raw)
        assert r.status_code == 200 and r.json()["errcode"] == -1, r.text
    assert failure(respdata(hosting(emu, "refund", b"")), key)[0] == "POST_DATA_EMPTY"


def test_cloud_function_refund_camel_case_and_closed_refund(
    emu: Emu, parties: Parties, cloud_receiver: CloudReceiver
) -> None:
    register_function(emu, SEED_003["envId"], "refund_cb", cloud_receiver.base + "/fn/refund_cb")
    order = {**SEED_003, "subMchId": parties.sub, "outTradeNo": new_trade_no("FNR"), "totalFee": 10}
    placed = function(emu, "unifiedOrder", order).json()
    assert placed["errCode"] == 0, placed
    assert emu.pay(prepay_id=placed["prepayId"]).status_code == 200

    base = {"subMchId": parties.sub, "outTradeNo": order["outTradeNo"], "totalFee": 10}
    callback = {"envId": SEED_003["envId"], "functionName": "refund_cb"}
    body = {**base, "outRefundNo": "F1_" + order["outTradeNo"], "refundFee": 4, **callback}
    r = function(emu, "refund", body)
    assert r.status_code == 200, r.text
    made = r.json()
    assert made["errCode"] == 0 and made["errMsg"] == "cloudPay.refund:ok", made
    camel = ["returnCode", "returnMsg", "appid", "mchId", "subAppid", "subMchId", "nonceStr", "sign"]
    tail = ["resultCode", "transactionId", "outTradeNo", "outRefundNo", "refundId", "refundFee", "totalFee"]
    coupons = [
        "couponRefundFee",
        "couponRefundCount",
        "couponTypeList",
        "couponRefundIdList",
        "couponRefundFeeList",
    ]
    assert list(made)[2:] == [*camel, *tail, "cashFee", "cashRefundFee", *coupons]
    assert made["refundFee"] == made["cashRefundFee"] == 4 and made["subMchId"] == parties.sub

    closing = {**base, "outRefundNo": "F2_" + order["outTradeNo"], "refundFee": 6, **callback}
    assert function(emu, "refund", closing).json()["resultCode"] == "SUCCESS"
    over = function(emu, "refund", {**base, "outRefundNo": "F3_" + order["outTradeNo"], "refundFee": 1})
    assert over.json()["errCode"] == "ERROR" and over.json()["resultCode"] == "FAIL", over.text
    missing = function(emu, "refund", {"subMchId": parties.sub, "outTradeNo": order["outTradeNo"]})
    assert missing.json()["errCode"] == "LACK_PARAMS", missing.text

    closed = emu.control(
        "POST", f"/refunds/{closing['outRefundNo']}", json={"mchid": parties.sub, "status": "CLOSED"}
    )
    assert closed.status_code == 200, closed.text
    # The closed refund gave its 6 fen back: refundable again.
    again = {**base, "outRefundNo": "F4_" + order["outTradeNo"], "refundFee": 6}
    assert function(emu, "refund", again).json()["resultCode"] == "SUCCESS"

    advance(emu, REFUND_DELAY + 1)
    ref = {"subMchId": parties.sub, "outTradeNo": order["outTradeNo"]}
    q = poll(
        lambda: function(emu, "queryRefund", ref).json(),
        lambda q: q.get("refundStatusList", [None, None, None])[0::2] == ["SUCCESS", "SUCCESS"],
        "the function refunds to settle",
    )
    assert q["errMsg"] == "cloudPay.queryRefund:ok" and q["refundCount"] == 3
    assert q["refundStatusList"][1] == "REFUNDCLOSE" and q["refundSuccessTimeList"][1] == ""
    assert CHINA_TIME.match(q["refundSuccessTimeList"][0])

    notes = delivered(emu, "cloudfnrefund", 2)
    assert sorted(n["event_type"] for n in notes) == ["REFUND.CLOSED", "REFUND.SUCCESS"]
    events = {c.body["outRefundNo"]: c.body for c in cloud_receiver.received() if c.path == "/fn/refund_cb"}
    assert set(events) == {body["outRefundNo"], closing["outRefundNo"]}
    ok, shut = events[body["outRefundNo"]], events[closing["outRefundNo"]]
    assert ok["refundStatus"] == "SUCCESS" and ok["refundFee"] == 4 and ok["mchId"] == PROVIDER
    assert ok["subMchId"] == parties.sub and ok["refundRequestSource"] == "API" and "successTime" in ok
    assert shut["refundStatus"] == "REFUNDCLOSE" and "successTime" not in shut

    one = function(emu, "queryRefund", {"subMchId": parties.sub, "outRefundNo": body["outRefundNo"]}).json()
    assert one["refundCount"] == 1 and one["refundIdList"] == [made["refundId"]]
    nothing = function(
        emu, "queryRefund", {"subMchId": parties.sub, "refundId": "50300000000000000000000000"}
    )
    assert nothing.json()["errCode"] == "REFUNDNOTEXIST", nothing.text

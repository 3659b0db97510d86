"""Cloud hosting ``/_/pay/*`` (seed 001) and cloud functions ``/_/cloudpay/*`` (seed 003), end to end.

The seeds' request examples go in as they are (only sub_mch_id points at this module's sub-merchant);
answers are checked against the seeds' shapes, the v2 ``sign`` and ``paySign`` are verified with the cloud
provider's api_key, the order is paid through ``/emulator/v1/request-payment`` and the callback reaches a
real local HTTP server standing in for the container service or cloud function.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.e2e.v2.test_flow import signed_body
from tests.support.cloud import MINI_APPID, PROVIDER, SEED_001, SEED_003, Parties, make_parties
from tests.support.common import new_trade_no, poll
from tests.support.emulator import Emu
from tests.support.v2 import v2_md5
from wxpay_emulator.testing import EmulatorProcess

SEED_001_KEYS = [
    "return_code",
    "return_msg",
    "appid",
    "mch_id",
    "sub_appid",
    "sub_mch_id",
    "nonce_str",
    "sign",
    "result_code",
    "trade_type",
    "prepay_id",
    "payment",
]
PAYMENT_KEYS = ["appId", "timeStamp", "nonceStr", "package", "signType", "paySign"]
HEADERS = {"X-WX-APPID": MINI_APPID}


# --- the container service / cloud function ------------------------------------------------------------


@dataclass(frozen=True)
class Callback:
    path: str
    body: dict[str, Any]


class CloudReceiver:
    """Answers callbacks with ``plan`` entries (status, JSON body) in order, then ``{"errcode": 0}``."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self.calls: list[Callback] = []
        self.plan: list[tuple[int, dict[str, Any]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(min(length, 1 << 20))
                with receiver._lock:
                    status, answer = receiver.plan.pop(0) if receiver.plan else (200, {"errcode": 0})
                    receiver.calls.append(Callback(self.path, json.loads(raw)))
                    receiver._lock.notify_all()
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def received(self) -> list[Callback]:
        with self._lock:
            return list(self.calls)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)


@pytest.fixture
def cloud_receiver() -> Iterator[CloudReceiver]:
    r = CloudReceiver()
    try:
        yield r
    finally:
        r.close()


# --- parties -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def parties(emulator_process: EmulatorProcess, control_http: httpx.Client) -> Parties:
    return make_parties(Emu(emulator_process, control_http))


def hosting(emu: Emu, op: str, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    h = {"Content-Type": "application/json", **(HEADERS if headers is None else headers)}
    return emu.http.post(f"{emu.url}/_/pay/{op}", content=content, headers=h)


def function(emu: Emu, op: str, body: Any) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    h = {"Content-Type": "application/json", **HEADERS}
    return emu.http.post(f"{emu.url}/_/cloudpay/{op}", content=content, headers=h)


def respdata(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["errcode"] == 0 and answer["errmsg"] == "ok", answer
    data: dict[str, Any] = answer["respdata"]
    return data


def register_service(emu: Emu, env_id: str, service: str, url: str) -> None:
    r = emu.control("POST", "/cloud/services", json={"env_id": env_id, "service": service, "url": url})
    assert r.status_code == 201, r.text


def register_function(emu: Emu, env_id: str, name: str, url: str) -> None:
    r = emu.control("POST", "/cloud/functions", json={"env_id": env_id, "function_name": name, "url": url})
    assert r.status_code == 201, r.text


def request_payment(emu: Emu, payment: dict[str, str], **extra: str) -> httpx.Response:
    return emu.control("POST", "/request-payment", json={**payment, **extra})


def delivered(emu: Emu) -> dict[str, Any]:
    found = poll(
        emu.notifications,
        lambda ns: len(ns) == 1 and ns[0]["status"] == "DELIVERED",
        "the cloud callback to be acknowledged",
    )
    return found[0]


# --- cloud hosting (seed 001) --------------------------------------------------------------------------


def test_seed_001_unified_order_pay_and_callback_retried_until_errcode_0(
    emu: Emu, parties: Parties, cloud_receiver: CloudReceiver
) -> None:
    register_service(emu, SEED_001["env_id"], "pay", cloud_receiver.base + "/container")
    cloud_receiver.plan = [(200, {"errcode": 1, "errmsg": "busy"}), (500, {"errcode": 0}), (200, {"code": 0})]
    data = respdata(hosting(emu, "unifiedorder", SEED_001))
    assert list(data) == SEED_001_KEYS
    assert list(data["payment"]) == PAYMENT_KEYS
    assert (
        data["return_code"] == "SUCCESS" and data["return_msg"] == "OK" and data["result_code"] == "SUCCESS"
    )
    assert data["appid"] == data["sub_appid"] == MINI_APPID
    assert data["mch_id"] == PROVIDER and data["sub_mch_id"] == parties.sub
    assert data["trade_type"] == "JSAPI" and data["prepay_id"].startswith("wx")
    assert data["sign"] == v2_md5(data, parties.provider_key)
    payment = data["payment"]
    assert payment["appId"] == MINI_APPID and payment["signType"] == "MD5"
    assert payment["package"] == f"prepay_id={data['prepay_id']}"
    assert payment["paySign"] == v2_md5(
        {k: v for k, v in payment.items() if k != "paySign"}, parties.provider_key
    )

    # Re-entry with the same parameters: the same prepay_id.
    again = respdata(hosting(emu, "unifiedOrder", SEED_001))
    assert again["prepay_id"] == data["prepay_id"]

    forged = request_payment(emu, {**payment, "paySign": "0" * 32})
    assert forged.status_code == 400 and forged.json()["code"] == "SIGN_ERROR", forged.text
    paid = request_payment(emu, payment, openid=SEED_001["openid"])
    assert paid.status_code == 200 and paid.json()["errMsg"] == "requestPayment:ok", paid.text

    n = delivered(emu)
    assert n["family"] == "cloud" and n["attempts"] == 4, n  # errcode 1, HTTP 500, no errcode, then 0
    calls = cloud_receiver.received()
    assert len(calls) == 4 and {c.path for c in calls} == {"/container"}
    assert len({json.dumps(c.body, sort_keys=True) for c in calls}) == 1  # the same body every time
    body = calls[0].body
    assert body["returnCode"] == body["resultCode"] == "SUCCESS"
    assert body["mchId"] == PROVIDER and body["subMchId"] == parties.sub and body["subAppid"] == MINI_APPID
    assert body["outTradeNo"] == SEED_001["out_trade_no"] and body["totalFee"] == body["cashFee"] == 1
    assert body["openid"] == SEED_001["openid"] and body["tradeType"] == "JSAPI" and body["feeType"] == "CNY"
    assert len(body["transactionId"]) == 28 and len(body["timeEnd"]) == 14

    query = respdata(
        hosting(emu, "queryorder", {"sub_mch_id": parties.sub, "out_trade_no": SEED_001["out_trade_no"]})
    )
    assert query["result_code"] == "SUCCESS" and query["trade_state"] == "SUCCESS"
    assert query["transaction_id"] == body["transactionId"] and query["time_end"] == body["timeEnd"]
    assert query["total_fee"] == 1 and query["sign"] == v2_md5(query, parties.provider_key)
    by_id = respdata(
        hosting(emu, "queryorder", {"sub_mch_id": parties.sub, "transaction_id": body["transactionId"]})
    )
    assert by_id["out_trade_no"] == SEED_001["out_trade_no"]

    for op, code, des in (
        ("closeorder", "ORDERPAID", "商户订单已支付"),
        ("unifiedorder", "ORDERPAID", "商户订单已支付"),
    ):
        ref = (
            SEED_001
            if op == "unifiedorder"
            else {"sub_mch_id": parties.sub, "out_trade_no": SEED_001["out_trade_no"]}
        )
        failed = respdata(hosting(emu, op, ref))
        assert failed["return_code"] == "SUCCESS" and failed["result_code"] == "FAIL", failed
        assert failed["err_code"] == code and failed["err_code_des"] == des
        assert failed["sign"] == v2_md5(failed, parties.provider_key)


def test_container_path_is_joined_and_close_then_reenter_is_orderclosed(
    emu: Emu, parties: Parties, cloud_receiver: CloudReceiver
) -> None:
    register_service(emu, "env-join", "billing", cloud_receiver.base + "/svc")
    order = {**SEED_001, "out_trade_no": new_trade_no("CLOUD"), "env_id": "env-join"}
    order["container"] = {"service": "billing", "path": "/wx/paid"}
    first = respdata(hosting(emu, "unifiedorder", order))
    assert first["result_code"] == "SUCCESS"
    ref = {"sub_mch_id": parties.sub, "out_trade_no": order["out_trade_no"]}
    closed = respdata(hosting(emu, "closeorder", ref))
    assert closed["result_code"] == "SUCCESS" and closed["sign"] == v2_md5(closed, parties.provider_key)
    assert respdata(hosting(emu, "closeorder", ref))["result_code"] == "SUCCESS"  # again: still fine
    state = respdata(hosting(emu, "queryorder", ref))
    assert state["trade_state"] == "CLOSED" and "transaction_id" not in state
    again = respdata(hosting(emu, "unifiedorder", order))
    assert again["err_code"] == "ORDERCLOSED" and again["err_code_des"] == "订单已关闭"
    refused = request_payment(emu, first["payment"])
    assert refused.status_code == 409 and refused.json()["code"] == "ORDER_CLOSED", refused.text

    paid_order = {**order, "out_trade_no": new_trade_no("CLOUD")}
    data = respdata(hosting(emu, "unifiedorder", paid_order))
    assert request_payment(emu, data["payment"]).status_code == 200
    delivered(emu)
    assert [c.path for c in cloud_receiver.received()] == ["/svc/wx/paid"]


# --- cloud functions (seed 003) ------------------------------------------------------------------------


def test_seed_003_cloud_function_unified_order_query_close(
    emu: Emu, parties: Parties, cloud_receiver: CloudReceiver
) -> None:
    register_function(emu, "test-f0b102", "pay_cb", cloud_receiver.base + "/fn/pay_cb")
    order = {**SEED_003, "subMchId": parties.sub, "outTradeNo": new_trade_no("FN")}
    response = function(emu, "unifiedOrder", order)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["errCode"] == 0 and result["errMsg"] == "cloudPay.unifiedOrder:ok"
    keys = ["returnCode", "returnMsg", "appid", "mchId", "subAppid", "subMchId", "nonceStr", "sign"]
    assert list(result)[2:] == [*keys, "resultCode", "tradeType", "prepayId", "payment"]
    assert result["returnCode"] == result["resultCode"] == "SUCCESS"
    assert (
        result["mchId"] == PROVIDER and result["subMchId"] == parties.sub and result["subAppid"] == MINI_APPID
    )
    payment = result["payment"]
    assert list(payment) == PAYMENT_KEYS and payment["package"] == f"prepay_id={result['prepayId']}"

    ref = {"subMchId": parties.sub, "outTradeNo": order["outTradeNo"]}
    unpaid = function(emu, "queryOrder", ref).json()
    assert unpaid["errMsg"] == "cloudPay.queryOrder:ok" and unpaid["tradeState"] == "NOTPAY"
    assert "transactionId" not in unpaid

    # The function answers errcode 1 first: not acknowledged, so the callback comes again.
    cloud_receiver.plan = [(200, {"errcode": 1, "errmsg": "not yet"})]
    paid = emu.pay(prepay_id=result["prepayId"])
    assert paid.status_code == 200, paid.text
    n = delivered(emu)
    assert n["family"] == "cloudfn" and n["attempts"] == 2
    first, call = cloud_receiver.received()
    assert call.path == first.path == "/fn/pay_cb" and call.body == first.body
    event = call.body
    for key in ("returnCode", "resultCode", "appid", "mchId", "subAppid", "subMchId", "nonceStr", "openid"):
        assert event[key], key
    assert event["subMchId"] == parties.sub and event["outTradeNo"] == order["outTradeNo"]
    assert event["totalFee"] == event["cashFee"] == 1 and event["feeType"] == "CNY"
    assert len(event["transactionId"]) == 28 and len(event["timeEnd"]) == 14
    assert not any("_" in k for k in event), event

    queried = function(emu, "queryOrder", {"subMchId": parties.sub, "transactionId": event["transactionId"]})
    answer = queried.json()
    assert answer["tradeState"] == "SUCCESS" and answer["outTradeNo"] == order["outTradeNo"]
    closing = function(emu, "closeOrder", ref).json()
    # As the wx-server-sdk result spreads the v2 fields over its own errCode: the business code wins.
    assert closing["resultCode"] == "FAIL" and closing["errCode"] == "ORDERPAID"
    assert closing["errCodeDes"] == "商户订单已支付" and closing["errMsg"] == "cloudPay.closeOrder:ok"


def test_callback_waits_for_its_function_to_be_registered(
    emu: Emu, parties: Parties, cloud_receiver: CloudReceiver
) -> None:
    name = "late_" + secrets.token_hex(4)
    order = {**SEED_003, "subMchId": parties.sub, "outTradeNo": new_trade_no("FN"), "functionName": name}
    result = function(emu, "unifiedOrder", order).json()
    assert result["resultCode"] == "SUCCESS", result
    assert request_payment(emu, result["payment"]).status_code == 200
    poll(emu.notifications, lambda ns: len(ns) == 1 and ns[0]["attempts"] >= 2, "failed attempts")
    failing = emu.notifications()[0]
    assert failing["status"] == "PENDING" and f"no function '{name}' registered" in str(failing["deliveries"])
    register_function(emu, SEED_003["envId"], name, cloud_receiver.base + "/late")
    delivered(emu)
    assert [c.path for c in cloud_receiver.received()] == ["/late"]


# --- the seed's error rows and bad input -----------------------------------------------------------------


def test_error_rows_of_seed_001(emu: Emu, parties: Parties) -> None:
    def failure(response: httpx.Response) -> tuple[str, str]:
        data = respdata(response)
        assert data["return_code"] == "SUCCESS" and data["result_code"] == "FAIL", data
        assert data["mch_id"] == PROVIDER and data["sign"] == v2_md5(data, parties.provider_key)
        return data["err_code"], data["err_code_des"]

    base = {**SEED_001, "out_trade_no": new_trade_no("ERR")}
    assert failure(hosting(emu, "unifiedorder", {**base, "sub_mch_id": "1999999991"})) == (
        "MCHID_NOT_EXIST",
        "MCHID不存在",
    )
    assert failure(hosting(emu, "unifiedorder", {**base, "sub_mch_id": parties.plain})) == (
        "NOAUTH",
        "商户无此接口权限",
    )
    stranger_app = {"X-WX-APPID": "wx0000000000000bad"}
    assert failure(hosting(emu, "unifiedorder", base, stranger_app)) == (
        "APPID_MCHID_NOT_MATCH",
        "appid和mch_id不匹配",
    )
    # Without X-WX-APPID the configured default app (not bound to this sub-merchant) is the caller.
    assert failure(hosting(emu, "unifiedorder", base, {}))[0] == "APPID_MCHID_NOT_MATCH"
    assert respdata(hosting(emu, "unifiedorder", base))["result_code"] == "SUCCESS"
    # Re-entry with other parameters is seed 001's INVALID_REQUEST (订单重入时,要求参数值与原请求一致) ...
    assert failure(hosting(emu, "unifiedorder", {**base, "total_fee": 2})) == ("INVALID_REQUEST", "参数错误")
    # ... and the number of an order another API placed (here APIv2's, by the provider for the
    # sub-merchant) OUT_TRADE_NO_USED.
    taken = new_trade_no("V2")
    provider_appid = emu.control("GET", f"/merchants/{PROVIDER}").json()["appid"]
    v2_order = {
        "appid": provider_appid,
        "mch_id": PROVIDER,
        "sub_mch_id": parties.sub,
        "sub_appid": MINI_APPID,
        "nonce_str": "n0nce",
        "body": "v2",
        "out_trade_no": taken,
        "total_fee": "1",
        "spbill_create_ip": "127.0.0.1",
        "notify_url": "http://127.0.0.1:9/n",
        "trade_type": "APP",
    }
    placed = emu.http.post(emu.url + "/pay/unifiedorder", content=signed_body(v2_order, parties.provider_key))
    assert "<result_code><![CDATA[SUCCESS]]></result_code>" in placed.text, placed.text
    assert failure(hosting(emu, "unifiedorder", {**base, "out_trade_no": taken})) == (
        "OUT_TRADE_NO_USED",
        "商户订单号重复",
    )
    for missing in ("body", "out_trade_no", "total_fee", "sub_mch_id", "env_id", "spbill_create_ip"):
        lacking = {k: v for k, v in base.items() if k != missing}
        assert failure(hosting(emu, "unifiedorder", lacking)) == ("LACK_PARAMS", "缺少参数"), missing
    no_container = {k: v for k, v in base.items() if k != "container"}
    assert failure(hosting(emu, "unifiedorder", no_container)) == ("LACK_PARAMS", "缺少参数")
    no_user = {k: v for k, v in base.items() if k != "openid"}
    assert failure(hosting(emu, "unifiedorder", no_user)) == ("LACK_PARAMS", "缺少参数")
    for bad in ({"total_fee": "1"}, {"total_fee": 0}, {"trade_type": "NATIVE"}, {"out_trade_no": "x" * 33}):
        assert failure(hosting(emu, "unifiedorder", {**base, **bad})) == ("INVALID_REQUEST", "参数错误"), bad
    assert failure(hosting(emu, "unifiedorder", b"")) == ("POST_DATA_EMPTY", "post数据为空")
    assert failure(hosting(emu, "unifiedorder", b'{"body": "\xff"}')) == ("NOT_UTF8", "编码格式错误")
    ref = {"sub_mch_id": parties.sub, "out_trade_no": new_trade_no("NONE")}
    assert failure(hosting(emu, "queryorder", ref))[0] == "ORDERNOTEXIST"
    assert failure(hosting(emu, "closeorder", ref))[0] == "ORDERNOTEXIST"
    assert failure(hosting(emu, "queryorder", {"sub_mch_id": parties.sub})) == ("LACK_PARAMS", "缺少参数")
    fn = function(emu, "unifiedOrder", {**SEED_003, "subMchId": parties.plain}).json()
    assert (
        fn["resultCode"] == "FAIL" and fn["errCode"] == "NOAUTH" and fn["errCodeDes"] == "商户无此接口权限"
    ), fn


@pytest.mark.parametrize(
    "path",
    [
        "/_/pay/unifiedorder",
        "/_/pay/queryorder",
        "/_/pay/closeorder",
        "/_/cloudpay/unifiedOrder",
        "/_/cloudpay/queryOrder",
        "/_/cloudpay/closeOrder",
    ],
)
def test_bad_input_is_never_a_500(emu: Emu, parties: Parties, path: str) -> None:
    fn = path.startswith("/_/cloudpay/")
    # NaN is not JSON (RFC 8259): refused as unparsable, like any other text that is not JSON.
    for raw in (
        b"{",
        b"[1,2]",
        b"null",
        b'"text"',
        b"<xml></xml>",
        b"\x00\x01",
        b'{"a": 1} x',
        b'{"a": NaN}',
    ):
        r = emu.http.post(emu.url + path, content=raw, headers=HEADERS)
        assert r.status_code == 200, (raw, r.text)
        answer = r.json()
        if fn:
            assert answer["errCode"] == -1 and answer["errMsg"].startswith("cloudPay."), answer
        else:
            assert answer["errcode"] == -1 and answer["errmsg"], answer
    odd = {
        "sub_mch_id": ["x"],
        "subMchId": {"a": 1},
        "total_fee": None,
        "container": "pay",
        "nonce_str": "\u0000",
    }
    for content in (json.dumps(odd).encode(), b'{"total_fee": 1e999, "totalFee": 1e999}'):
        r = emu.http.post(emu.url + path, content=content, headers=HEADERS)
        assert r.status_code == 200, r.text
        answer = r.json()
        failed = answer if fn else answer["respdata"]
        assert fn or answer["errcode"] == 0, answer
        assert failed["resultCode" if fn else "result_code"] == "FAIL", answer
    got = emu.http.get(emu.url + path)
    assert got.status_code == 405 and got.json()[("errCode" if fn else "errcode")] == -1, got.text


def test_unknown_paths_and_nul_answer_the_cloud_envelope(emu: Emu) -> None:
    r = emu.http.post(emu.url + "/_/pay/noSuchOperation", json={})
    assert r.status_code == 404 and r.json()["errmsg"].startswith("EMULATOR_NOT_IMPLEMENTED"), r.text
    r = emu.http.post(emu.url + "/_/cloudpay/noSuchOperation", json={})
    assert r.status_code == 404 and r.json()["errMsg"].startswith(
        "cloudPay.noSuchOperation:fail EMULATOR_NOT_IMPLEMENTED"
    )
    r = emu.http.post(emu.url + "/_/pay/unifiedorder%00", json={})
    assert r.status_code == 200 and r.json()["errcode"] == -1, r.text


def test_control_plane_lists_and_validates_endpoints(emu: Emu) -> None:
    register_service(emu, "env-list", "svc", "http://127.0.0.1:9/a")
    register_service(emu, "env-list", "svc", "http://127.0.0.1:9/b")  # moves it
    register_function(emu, "env-list", "fn", "http://127.0.0.1:9/f")
    services = emu.control("GET", "/cloud/services").json()["data"]
    assert {"env_id": "env-list", "service": "svc", "url": "http://127.0.0.1:9/b"} in services
    assert not any(s["url"] == "http://127.0.0.1:9/a" for s in services)
    functions = emu.control("GET", "/cloud/functions").json()["data"]
    assert {"env_id": "env-list", "function_name": "fn", "url": "http://127.0.0.1:9/f"} in functions
    for bad in ({"env_id": "e", "service": "s", "url": "ftp://x/y"}, {"env_id": "e", "service": "s"}):
        r = emu.control("POST", "/cloud/services", json=bad)
        assert r.status_code == 400 and r.json()["code"] == "PARAM_ERROR", r.text


def test_hosting_and_function_are_one_api_for_re_entry(emu: Emu, parties: Parties) -> None:
    """An order placed by cloud hosting (with a function callback) re-entered through CloudPay with the
    same parameters is the same order, as both query and close each other's orders."""
    no = new_trade_no("RX")
    hosted = {
        "body": "b",
        "openid": SEED_001["openid"],
        "out_trade_no": no,
        "spbill_create_ip": "127.0.0.1",
        "env_id": "env1",
        "sub_mch_id": parties.sub,
        "total_fee": 1,
        "callback_type": 1,
        "function_name": "pay_cb",
    }
    first = respdata(hosting(emu, "unifiedorder", hosted))
    camel = {
        "body": "b",
        "openid": SEED_001["openid"],
        "outTradeNo": no,
        "spbillCreateIp": "127.0.0.1",
        "envId": "env1",
        "subMchId": parties.sub,
        "totalFee": 1,
        "functionName": "pay_cb",
    }
    again = function(emu, "unifiedOrder", camel).json()
    assert again["resultCode"] == "SUCCESS" and again["prepayId"] == first["prepay_id"], again

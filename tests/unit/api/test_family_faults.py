"""Issue 10, item 6: every operation of every family can be armed, and an armed fault answers in that
family's shape: cloud hosting and CloudPay (seed 001's SYSTEMERROR, NOTENOUGH, APPID_NOT_EXIST, and the
envelope's -1), the Mini Program API (seed 000's errcode -1). A fault armed for one family's operation
never answers another family's call."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.asgi import client, make_app, new_merchant, trade_no
from wxpay_emulator.api.faults import api_routes, operation_of, takes_faults
from wxpay_emulator.domain.cloud_pay import ensure_provider
from wxpay_emulator.domain.models import Merchant

M: dict[str, Merchant] = {}


@pytest.fixture(scope="module")
def app() -> Iterator[Any]:
    with tempfile.TemporaryDirectory() as tmp:
        made = make_app(Path(tmp))
        provider = ensure_provider(made.state.domain.merchants)
        M["sub"] = new_merchant(made, sp_mchid=provider.mchid)
        yield made


def run(app: Any, scenario: Any) -> Any:
    async def go() -> Any:
        async with client(app) as http:
            return await scenario(http)

    return asyncio.run(go())


async def arm(http: httpx.AsyncClient, operation: str, code: str, **more: Any) -> None:
    r = await http.post("/emulator/v1/faults", json={"operation": operation, "code": code, **more})
    assert r.status_code == 201, r.text


def test_every_declared_operation_takes_faults(app: Any) -> None:
    """No route of a WeChat family opts out: each operation is armable (the control plane declares none)."""
    declared = {operation_of(r) for r in api_routes(app.routes) if operation_of(r) is not None}
    opted_out = {operation_of(r) for r in api_routes(app.routes) if operation_of(r) and not takes_faults(r)}
    assert opted_out == set()
    armable = set(app.state.faults.codes)
    assert declared == armable
    for name in ("cloud.unifiedorder", "cloudpay.unifiedOrder", "cloud.queryrefund", "cloudpay.queryRefund"):
        assert {"SYSTEMERROR", "NOTENOUGH", "APPID_NOT_EXIST", "-1"} <= app.state.faults.codes[name]
    for name in ("mp.token", "mp.stable_token", "mp.getpaidunionid"):
        assert "-1" in app.state.faults.codes[name]


HOSTING_CALLS = [
    ("cloud.unifiedorder", "/_/pay/unifiedorder"),
    ("cloud.queryorder", "/_/pay/queryorder"),
    ("cloud.closeorder", "/_/pay/closeOrder"),
    ("cloud.refund", "/_/pay/refund"),
    ("cloud.queryrefund", "/_/pay/queryRefund"),
]
FUNCTION_CALLS = [
    ("cloudpay.unifiedOrder", "/_/cloudpay/unifiedOrder"),
    ("cloudpay.queryOrder", "/_/cloudpay/queryOrder"),
    ("cloudpay.closeOrder", "/_/cloudpay/closeOrder"),
    ("cloudpay.refund", "/_/cloudpay/refund"),
    ("cloudpay.queryRefund", "/_/cloudpay/queryRefund"),
]


@pytest.mark.parametrize(("operation", "path"), HOSTING_CALLS)
@pytest.mark.parametrize(
    ("code", "description"),
    [("SYSTEMERROR", "系统错误"), ("NOTENOUGH", "余额不足"), ("APPID_NOT_EXIST", "APPID不存在")],
)
def test_cloud_hosting_faults_answer_seed_001_codes(
    app: Any, operation: str, path: str, code: str, description: str
) -> None:
    async def go(http: httpx.AsyncClient) -> None:
        await arm(http, operation, code)
        r = await http.post(path, json={"sub_mch_id": M["sub"].mchid, "out_trade_no": trade_no()})
        data = r.json()
        assert r.status_code == 200 and data["errcode"] == 0, r.text
        assert (data["respdata"]["result_code"], data["respdata"]["err_code"]) == ("FAIL", code)
        assert data["respdata"]["err_code_des"] == description
        assert "sign" in data["respdata"]
        assert operation not in (await http.get("/emulator/v1/faults")).json()["pending"]
        # Taken once: the next call is the operation's own answer again.
        again = await http.post(path, json={"sub_mch_id": M["sub"].mchid, "out_trade_no": trade_no()})
        assert again.json()["respdata"].get("err_code") != code

    run(app, go)


@pytest.mark.parametrize(("operation", "path"), FUNCTION_CALLS)
def test_cloudpay_faults_answer_in_the_function_result(app: Any, operation: str, path: str) -> None:
    async def go(http: httpx.AsyncClient) -> None:
        await arm(http, operation, "NOTENOUGH")
        r = await http.post(path, json={"subMchId": M["sub"].mchid, "outTradeNo": trade_no()})
        data = r.json()
        assert (data["resultCode"], data["errCode"], data["errCodeDes"]) == ("FAIL", "NOTENOUGH", "余额不足")
        await arm(http, operation, "-1", message="boom")
        r = await http.post(path, json={"subMchId": M["sub"].mchid, "outTradeNo": trade_no()})
        data = r.json()
        assert data["errCode"] == -1 and data["errMsg"].endswith(":fail boom"), data

    run(app, go)


def test_hosting_envelope_fault(app: Any) -> None:
    async def go(http: httpx.AsyncClient) -> None:
        await arm(http, "cloud.unifiedorder", "-1")
        r = await http.post("/_/pay/unifiedorder", json={})
        assert r.json()["errcode"] == -1

    run(app, go)


def test_a_fault_of_one_family_never_answers_another(app: Any) -> None:
    async def go(http: httpx.AsyncClient) -> None:
        await arm(http, "v2.unifiedorder", "SYSTEMERROR")
        r = await http.post("/_/pay/unifiedorder", json={"sub_mch_id": M["sub"].mchid})
        assert r.json()["respdata"]["err_code"] == "LACK_PARAMS"  # its own answer, not the v2 fault
        await arm(http, "cloud.queryorder", "SYSTEMERROR")
        r = await http.post("/_/cloudpay/queryOrder", json={"subMchId": M["sub"].mchid})
        assert r.json()["errCode"] == "LACK_PARAMS"  # CloudPay has its own operations
        pending = (await http.get("/emulator/v1/faults")).json()["pending"]
        assert pending == {"v2.unifiedorder": ["SYSTEMERROR"], "cloud.queryorder": ["SYSTEMERROR"]}
        await http.delete("/emulator/v1/faults")

    run(app, go)


@pytest.mark.parametrize(
    ("operation", "method", "path"),
    [
        ("mp.token", "GET", "/cgi-bin/token?grant_type=client_credential&appid=wx1&secret=s"),
        ("mp.stable_token", "POST", "/cgi-bin/stable_token"),
        ("mp.getpaidunionid", "GET", "/wxa/getpaidunionid?access_token=t&openid=o&transaction_id=1"),
    ],
)
def test_miniprogram_faults_answer_seed_000_errcodes(
    app: Any, operation: str, method: str, path: str
) -> None:
    async def go(http: httpx.AsyncClient) -> None:
        body = {"grant_type": "client_credential", "appid": "wx1", "secret": "s"}
        for code, errmsg in (("-1", "system error"), ("89300", "invalid trade")):
            await arm(http, operation, code)
            r = await http.request(method, path, json=body if method == "POST" else None)
            assert r.status_code == 200 and r.json() == {"errcode": int(code), "errmsg": errmsg}, r.text
        r = await http.request(method, path, json=body if method == "POST" else None)
        assert r.json().get("errcode") != -1  # taken once

    run(app, go)

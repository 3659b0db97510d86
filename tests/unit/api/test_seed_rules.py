"""Issue 10, item 3: the seeds' rules, enforced through the routes (in process).

- each family's out_trade_no alphabet as its page gives it, in bodies and in query paths:
  seed 002 (partner) digits, letters, ``_-*``; seed 004 (combine) ``_-|*``; seeds 001/003 (cloud) ``_-``
  (the cloud rows are in test_cloud_pay.py);
- ``payer_client_ip`` / ``spbill_create_ip`` an IPv4 or IPv6 address;
- RFC 3339 ``time_expire`` with seconds and an offset; ``yyyyMMddHHmmss`` a real time;
- a combine's sub-order out_trade_no unique under the combine_mchid (seed 004).
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.asgi import client, make_app, new_merchant, trade_no, v2, v3
from wxpay_emulator.domain.models import Merchant
from wxpay_emulator.wire import check_ip, parse_rfc3339, parse_time

NOTIFY = "http://127.0.0.1:9/n"
M: dict[str, Merchant] = {}


@pytest.fixture(scope="module")
def app() -> Iterator[Any]:
    with tempfile.TemporaryDirectory() as tmp:
        made = make_app(Path(tmp))
        M["direct"] = new_merchant(made)
        M["sub"] = new_merchant(made, sp_mchid=M["direct"].mchid)
        yield made


def run(app: Any, scenario: Any) -> Any:
    async def go() -> Any:
        async with client(app) as http:
            return await scenario(http)

    return asyncio.run(go())


def direct_body(**changes: Any) -> dict[str, Any]:
    m = M["direct"]
    body = {
        "appid": m.appid,
        "mchid": m.mchid,
        "description": "d",
        "out_trade_no": trade_no(),
        "notify_url": NOTIFY,
        "amount": {"total": 1},
    }
    return {**body, **changes}


def partner_body(**changes: Any) -> dict[str, Any]:
    sp, sub = M["direct"], M["sub"]
    body = {
        "sp_appid": sp.appid,
        "sp_mchid": sp.mchid,
        "sub_mchid": sub.mchid,
        "description": "d",
        "out_trade_no": trade_no(),
        "notify_url": NOTIFY,
        "amount": {"total": 1},
    }
    return {**body, **changes}


def combine_body(subs: list[tuple[str, str]], **changes: Any) -> dict[str, Any]:
    m = M["direct"]
    orders = [
        {"mchid": mchid, "attach": "a", "amount": {"total_amount": 1}, "out_trade_no": no, "description": "d"}
        for mchid, no in subs
    ]
    body = {
        "combine_appid": m.appid,
        "combine_mchid": m.mchid,
        "combine_out_trade_no": trade_no("C"),
        "sub_orders": orders,
        "notify_url": NOTIFY,
    }
    return {**body, **changes}


def refused(r: httpx.Response, status: int = 400, code: str = "PARAM_ERROR") -> dict[str, Any]:
    assert (r.status_code, r.json()["code"]) == (status, code), r.text
    answer: dict[str, Any] = r.json()
    return answer


@pytest.mark.parametrize("ip", ["not-an-ip", "1.2.3.256", "14.17.22", "::g", " 1.2.3.4"])
def test_payer_client_ip_is_an_address(app: Any, ip: str) -> None:
    scene = {"payer_client_ip": ip}
    m = M["direct"]

    async def go(http: httpx.AsyncClient) -> None:
        r = await v3(http, m, "POST", "/v3/pay/transactions/native", direct_body(scene_info=scene))
        assert refused(r)["detail"]["field"] == "scene_info.payer_client_ip"
        r = await v3(http, m, "POST", "/v3/pay/partner/transactions/native", partner_body(scene_info=scene))
        refused(r)
        subs = [(m.mchid, trade_no()), (M["sub"].mchid, trade_no())]
        r = await v3(http, m, "POST", "/v3/combine-transactions/native", combine_body(subs, scene_info=scene))
        refused(r)
        fields = {
            "body": "b",
            "out_trade_no": trade_no(),
            "total_fee": "1",
            "spbill_create_ip": ip,
            "notify_url": NOTIFY,
            "trade_type": "NATIVE",
            "product_id": "p",
        }
        r = await v2(http, m, "/pay/unifiedorder", fields)
        assert "<err_code><![CDATA[INVALID_REQUEST]]></err_code>" in r.text, r.text
        assert "spbill_create_ip" in r.text

    run(app, go)


@pytest.mark.parametrize(
    "value", ["20300101T000000+0800", "2030-01-01T00:00+08:00", "2030-01-01T00:00:00", "2030-01-01"]
)
def test_rfc3339_time_expire_needs_seconds_and_an_offset(app: Any, value: str) -> None:
    async def go(http: httpx.AsyncClient) -> None:
        r = await v3(http, M["direct"], "POST", "/v3/pay/transactions/native", direct_body(time_expire=value))
        assert refused(r)["detail"]["field"] == "time_expire"

    run(app, go)


def test_rfc3339_forms_that_are_taken(app: Any) -> None:
    async def go(http: httpx.AsyncClient) -> None:
        for value in (
            "2099-01-01T00:00:00+08:00",
            "2099-01-01T00:00:00Z",
            "2099-01-01T00:00:00.123456789-05:00",
        ):
            r = await v3(
                http, M["direct"], "POST", "/v3/pay/transactions/native", direct_body(time_expire=value)
            )
            assert r.status_code == 200, (value, r.text)

    run(app, go)


def test_shared_validators() -> None:
    assert check_ip("2001:db8::1") and check_ip("127.0.0.1")
    for bad in ("20301301000000", "20300230000000", "20300101250000", "2030010100000"):
        with pytest.raises(ValueError):
            parse_time(bad)
    with pytest.raises(ValueError):
        parse_rfc3339("20300101T000000+0800")


def test_v2_times_must_be_real(app: Any) -> None:
    async def go(http: httpx.AsyncClient) -> None:
        for name in ("time_start", "time_expire"):
            fields = {
                "body": "b",
                "out_trade_no": trade_no(),
                "total_fee": "1",
                "spbill_create_ip": "::1",
                "notify_url": NOTIFY,
                "trade_type": "NATIVE",
                "product_id": "p",
                name: "20301301000000",
            }
            r = await v2(http, M["direct"], "/pay/unifiedorder", fields)
            assert "<err_code><![CDATA[INVALID_REQUEST]]></err_code>" in r.text and name in r.text, r.text

    run(app, go)


@pytest.mark.parametrize(
    ("no", "taken"), [("abc|def1", False), ("abc@def1", False), ("abc*def1", True), ("ab_-CD9", True)]
)
def test_partner_alphabet_is_seed_002s(app: Any, no: str, taken: bool) -> None:
    sp, sub = M["direct"], M["sub"]

    async def go(http: httpx.AsyncClient) -> None:
        r = await v3(http, sp, "POST", "/v3/pay/partner/transactions/native", partner_body(out_trade_no=no))
        if taken:
            assert r.status_code == 200, r.text
        else:
            assert refused(r)["detail"]["field"] == "out_trade_no"
        path = f"/v3/pay/partner/transactions/out-trade-no/{no}?sp_mchid={sp.mchid}&sub_mchid={sub.mchid}"
        r = await v3(http, sp, "GET", path)
        if taken:
            assert r.status_code == 200, r.text
        else:
            assert refused(r)["detail"]["location"] == "path"

    run(app, go)


def test_partner_query_path_refuses_a_pipe(app: Any) -> None:
    sp, sub = M["direct"], M["sub"]

    async def go(http: httpx.AsyncClient) -> None:
        for no in ("abc|def", "abc|def1"):
            path = f"/v3/pay/partner/transactions/out-trade-no/{no}?sp_mchid={sp.mchid}&sub_mchid={sub.mchid}"
            assert refused(await v3(http, sp, "GET", path))["detail"]["field"] == "out_trade_no"
            close = f"/v3/pay/partner/transactions/out-trade-no/{no}/close"
            r = await v3(http, sp, "POST", close, {"sp_mchid": sp.mchid, "sub_mchid": sub.mchid})
            refused(r)

    run(app, go)


def test_combine_alphabet_and_paths_are_seed_004s(app: Any) -> None:
    m, sub = M["direct"], M["sub"]

    async def go(http: httpx.AsyncClient) -> None:
        subs = [(m.mchid, "abc@def1"), (sub.mchid, trade_no())]
        r = await v3(http, m, "POST", "/v3/combine-transactions/native", combine_body(subs))
        refused(r)
        subs = [(m.mchid, f"a|*-_{trade_no()}"[:32]), (sub.mchid, trade_no())]
        r = await v3(http, m, "POST", "/v3/combine-transactions/native", combine_body(subs))
        assert r.status_code == 200, r.text
        r = await v3(http, m, "GET", "/v3/combine-transactions/out-trade-no/abc@def1")
        assert refused(r)["detail"]["field"] == "combine_out_trade_no"

    run(app, go)


def test_combine_sub_order_numbers_are_unique_under_the_combine_mchid(app: Any) -> None:
    m, sub = M["direct"], M["sub"]

    async def go(http: httpx.AsyncClient) -> None:
        shared = trade_no("S")
        # Within one combine: the same number under two sub-merchants.
        r = await v3(
            http,
            m,
            "POST",
            "/v3/combine-transactions/native",
            combine_body([(m.mchid, shared), (sub.mchid, shared)]),
        )
        refused(r)
        # Across combines of one combine_mchid: a number a sub-order of another merchant already has.
        first = combine_body([(m.mchid, shared), (m.mchid, trade_no())])
        assert (await v3(http, m, "POST", "/v3/combine-transactions/native", first)).status_code == 200
        second = combine_body([(sub.mchid, shared), (m.mchid, trade_no())])
        r = await v3(http, m, "POST", "/v3/combine-transactions/native", second)
        refused(r, 403, "OUT_TRADE_NO_USED")
        # Re-entry of the first combine is still a re-entry.
        assert (await v3(http, m, "POST", "/v3/combine-transactions/native", first)).status_code == 200

    run(app, go)

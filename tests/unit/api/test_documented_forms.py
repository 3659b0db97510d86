"""Issue 10, item 1: every documented form of every optional field survives the whole life of an order.

Orders are placed through every family (APIv3 direct and partner, combine, APIv2 direct, cloud hosting,
CloudPay) with each optional field in each of its documented forms (``scene_info`` as an object or as
a JSON string, ``detail`` as text, JSON text or an object ...), then paid, queried through every
family that can see them, listed, refunded and their notifications rendered (at payment) and listed:
nothing answers 5xx. Also: rows written by older versions (a ``scene_info`` stored as a string) render.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.asgi import OPENID, client, make_app, new_merchant, trade_no, v2, v3
from wxpay_emulator.domain.cloud_pay import ensure_provider
from wxpay_emulator.domain.models import Merchant
from wxpay_emulator.extras import OrderExtras, RefundExtras

NOTIFY = "http://127.0.0.1:9/notify"
ENV = "env-1"
SCENE = {"device_id": "POS1:1", "payer_client_ip": "14.17.22.32", "store_info": {"id": "SZ001"}}
SCENE_H5 = {"payer_client_ip": "2001:db8::1", "h5_info": {"type": "Wap"}}
DETAIL = {"cost_price": 1, "goods_detail": [{"merchant_goods_id": "g1", "quantity": 1, "unit_price": 1}]}


class World:
    """The app and its merchants (a plain class: hypothesis reports only its repr, not the keys)."""

    def __init__(
        self,
        app: Any,
        direct: Merchant,
        sp: Merchant,
        sub: Merchant,
        provider: Merchant,
        cloud_sub: Merchant,
        data_dir: Path,
    ) -> None:
        self.app, self.direct, self.sp, self.sub = app, direct, sp, sub
        self.provider, self.cloud_sub, self.data_dir = provider, cloud_sub, data_dir

    def __repr__(self) -> str:  # keys out of hypothesis' reports
        return f"World({self.data_dir})"


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with tempfile.TemporaryDirectory() as tmp:
        app = make_app(Path(tmp))
        domain = app.state.domain
        direct = new_merchant(app)
        sp = new_merchant(app)
        sub = new_merchant(app, sp_mchid=sp.mchid)
        provider = ensure_provider(domain.merchants)
        caller = app.state.settings.cloud_appid  # the Mini Program cloud calls come from
        cloud_sub = new_merchant(app, sp_mchid=provider.mchid, appids=(caller,))
        w = World(app, direct, sp, sub, provider, cloud_sub, Path(tmp))

        async def register() -> None:
            async with client(app) as http:
                for path, body in (
                    (
                        "/emulator/v1/cloud/functions",
                        {"env_id": ENV, "function_name": "paycb", "url": NOTIFY},
                    ),
                    ("/emulator/v1/cloud/services", {"env_id": ENV, "service": "pay", "url": NOTIFY}),
                ):
                    assert (await http.post(path, json=body)).status_code == 201

        asyncio.run(register())
        yield w


def optional(**forms: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A dict holding each field or not, each in one of its forms."""
    return st.fixed_dictionaries({}, optional=forms)


# Each family's optional fields, in every documented form.
V3_OPTIONAL = optional(
    attach=st.just("深圳分店"),
    goods_tag=st.just("WXG"),
    time_expire=st.sampled_from(["2099-01-01T00:00:00+08:00", "2099-01-01T00:00:00.123Z"]),
    detail=st.sampled_from([DETAIL, {"invoice_id": "wx123"}]),
    scene_info=st.sampled_from([SCENE, SCENE_H5, {"payer_client_ip": "127.0.0.1"}]),
    settle_info=st.sampled_from([{"profit_sharing": True}, {"profit_sharing": False}]),
    support_fapiao=st.booleans(),
)
TEXT_OR_JSON = st.sampled_from(["买单费用", json.dumps(DETAIL), json.dumps({"goods_detail": []})])
V2_OPTIONAL = optional(
    device_info=st.just("013467007045764"),
    detail=TEXT_OR_JSON,
    attach=st.just("深圳分店"),
    scene_info=st.sampled_from([json.dumps(SCENE), json.dumps({"h5_info": {"type": "Wap"}})]),
    time_start=st.just("20240101000000"),
    time_expire=st.just("20990101000000"),
    receipt=st.just("Y"),
    limit_pay=st.just("no_credit"),
)
CLOUD_OPTIONAL = optional(
    device_info=st.just("013467007045764"),
    detail=st.sampled_from(["买单费用", json.dumps(DETAIL), DETAIL]),
    attach=st.just("深圳分店"),
    scene_info=st.sampled_from([json.dumps(SCENE), SCENE, '{"store_info":{"id":"SZTX001"}}']),
    time_start=st.just("20240101000000"),
    time_expire=st.just("20990101000000"),
    receipt=st.just("Y"),
    limit_pay=st.just("no_credit"),
)
COMBINE_SUB_OPTIONAL = optional(
    detail=st.just("买单费用"),
    settle_info=st.sampled_from([{"profit_sharing": True}, {"profit_sharing": False}]),
    goods_tag=st.just("WXG"),
)
COMBINE_OPTIONAL = optional(
    scene_info=st.sampled_from([SCENE, {"payer_client_ip": "::1"}]),
    time_expire=st.just("2099-01-01T00:00:00+08:00"),
)


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def ok(response: httpx.Response, what: str) -> httpx.Response:
    assert response.status_code < 500, f"{what}: {response.status_code} {response.text[:300]}"
    return response


async def place(http: httpx.AsyncClient, w: World, family: str, extra: dict[str, Any]) -> tuple[str, str]:
    """Place an order; (mchid, out_trade_no) of the order to pay (a combine's first sub-order)."""
    no = trade_no()
    if family == "v3":
        body = {
            "appid": w.direct.appid,
            "mchid": w.direct.mchid,
            "description": "d",
            "out_trade_no": no,
            "notify_url": NOTIFY,
            "amount": {"total": 10},
            **extra,
        }
        kind = "h5" if "h5_info" in extra.get("scene_info", {}) else "native"
        r = ok(await v3(http, w.direct, "POST", f"/v3/pay/transactions/{kind}", body), "v3 prepay")
        assert r.status_code == 200, r.text
        return w.direct.mchid, no
    if family == "partner":
        body = {
            "sp_appid": w.sp.appid,
            "sp_mchid": w.sp.mchid,
            "sub_mchid": w.sub.mchid,
            "description": "d",
            "out_trade_no": no,
            "notify_url": NOTIFY,
            "amount": {"total": 10},
            **extra,
        }
        kind = "h5" if "h5_info" in extra.get("scene_info", {}) else "native"
        r = ok(await v3(http, w.sp, "POST", f"/v3/pay/partner/transactions/{kind}", body), "partner prepay")
        assert r.status_code == 200, r.text
        return w.sub.mchid, no
    if family == "combine":
        subs = [
            {
                "mchid": w.direct.mchid,
                "attach": "a",
                "amount": {"total_amount": 10, "currency": "CNY"},
                "out_trade_no": f"{no}{i}",
                "description": "d",
                **extra.get("sub", {}),
            }
            for i in range(2)
        ]
        body = {
            "combine_appid": w.direct.appid,
            "combine_mchid": w.direct.mchid,
            "combine_out_trade_no": no,
            "sub_orders": subs,
            "notify_url": NOTIFY,
            **{k: v for k, v in extra.items() if k != "sub"},
        }
        r = ok(await v3(http, w.direct, "POST", "/v3/combine-transactions/native", body), "combine prepay")
        assert r.status_code == 200, r.text
        return w.direct.mchid, f"{no}0"
    if family == "v2":
        trade_type = "MWEB" if "scene_info" in extra else "NATIVE"
        fields = {
            "body": "b",
            "out_trade_no": no,
            "total_fee": "10",
            "spbill_create_ip": "123.12.12.123",
            "notify_url": NOTIFY,
            "trade_type": trade_type,
            "product_id": "p1",
            **extra,
        }
        r = ok(await v2(http, w.direct, "/pay/unifiedorder", fields), "v2 unifiedorder")
        assert "<result_code><![CDATA[SUCCESS]]>" in r.text, r.text
        return w.direct.mchid, no
    snake = {
        "sub_mch_id": w.cloud_sub.mchid,
        "body": "b",
        "out_trade_no": no,
        "total_fee": 10,
        "spbill_create_ip": "59.37.125.120",
        "env_id": ENV,
        "sub_openid": OPENID,
        **extra,
    }
    if family == "hosting":
        payload = {**snake, "callback_type": 2, "container": {"service": "pay", "path": "/"}}
        r = ok(await http.post("/_/pay/unifiedorder", json=payload), "hosting unifiedorder")
        assert r.json()["respdata"]["result_code"] == "SUCCESS", r.text
    else:
        payload = {camel(k): v for k, v in {**snake, "function_name": "paycb"}.items()}
        r = ok(await http.post("/_/cloudpay/unifiedOrder", json=payload), "cloudpay unifiedOrder")
        assert r.json().get("returnCode") == "SUCCESS" and r.json().get("resultCode") == "SUCCESS", r.text
    return w.cloud_sub.mchid, no


async def afterwards(http: httpx.AsyncClient, w: World, family: str, mchid: str, no: str) -> None:
    """Pay, query through every family that sees the order, list, refund, list notifications."""
    ok(await http.post("/emulator/v1/payments", json={"mchid": mchid, "out_trade_no": no}), "pay")
    queries: list[httpx.Response] = []
    if family in ("v3", "v2", "combine"):
        path = f"/v3/pay/transactions/out-trade-no/{no}?mchid={mchid}"
        queries.append(await v3(http, w.direct, "GET", path))
        queries.append(await v2(http, w.direct, "/pay/orderquery", {"out_trade_no": no}))
    if family == "partner":
        path = f"/v3/pay/partner/transactions/out-trade-no/{no}?sp_mchid={w.sp.mchid}&sub_mchid={mchid}"
        queries.append(await v3(http, w.sp, "GET", path))
    if family in ("hosting", "function"):
        path = f"/v3/pay/partner/transactions/out-trade-no/{no}?sp_mchid={w.provider.mchid}&sub_mchid={mchid}"
        queries.append(await v3(http, w.provider, "GET", path))
        queries.append(await http.post("/_/pay/queryorder", json={"sub_mch_id": mchid, "out_trade_no": no}))
        queries.append(await http.post("/_/cloudpay/queryOrder", json={"subMchId": mchid, "outTradeNo": no}))
    for q in queries:
        ok(q, f"query of a {family} order")
    ok(await http.get("/emulator/v1/orders"), "orders")
    refund = {"mchid": mchid, "out_trade_no": no, "amount": 1}
    ok(await http.post("/emulator/v1/refunds", json=refund), "refund")
    ok(await http.get("/emulator/v1/refunds"), "refunds")
    ok(await http.get("/emulator/v1/notifications"), "notifications")


FAMILY_FORMS = st.one_of(
    st.tuples(st.just("v3"), V3_OPTIONAL),
    st.tuples(st.just("partner"), V3_OPTIONAL),
    st.tuples(
        st.just("combine"),
        st.builds(lambda top, sub: {**top, "sub": sub}, COMBINE_OPTIONAL, COMBINE_SUB_OPTIONAL),
    ),
    st.tuples(st.just("v2"), V2_OPTIONAL),
    st.tuples(st.just("hosting"), CLOUD_OPTIONAL),
    st.tuples(st.just("function"), CLOUD_OPTIONAL),
)


@settings(max_examples=45, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(FAMILY_FORMS)
def test_every_documented_form_lives_through_pay_query_list_refund_notify(
    world: World, case: tuple[str, dict[str, Any]]
) -> None:
    family, extra = case

    async def scenario() -> None:
        async with client(world.app) as http:
            mchid, no = await place(http, world, family, extra)
            await afterwards(http, world, family, mchid, no)

    asyncio.run(scenario())


def test_rows_written_by_older_versions_still_render(world: World) -> None:
    """A scene_info kept as a JSON string (what older versions stored for APIv2 and the cloud), or
    kept as something no version meant, renders everywhere."""

    async def scenario() -> None:
        async with client(world.app) as http:
            mchid, no = await place(http, world, "v3", {"scene_info": SCENE})
            for stored in (
                {"scene_info": json.dumps(SCENE)},
                {"scene_info": "not json", "device_info": 7, "sign_type": ["x"], "sandbox": "yes"},
                {"scene_info": [1, 2], "detail": 3, "settle_info": "x"},
            ):
                with sqlite3.connect(world.data_dir / "emulator.db") as db:
                    db.execute(
                        "UPDATE orders SET extras = ? WHERE mchid = ? AND out_trade_no = ?",
                        (json.dumps(stored), mchid, no),
                    )
                path = f"/v3/pay/transactions/out-trade-no/{no}?mchid={mchid}"
                r = await v3(http, world.direct, "GET", path)
                assert r.status_code == 200, r.text
                listed = ok(await http.get("/emulator/v1/orders"), "orders")
                assert listed.status_code == 200
                ok(await v2(http, world.direct, "/pay/orderquery", {"out_trade_no": no}), "v2 query")
            ok(await http.post("/emulator/v1/payments", json={"mchid": mchid, "out_trade_no": no}), "pay")

    asyncio.run(scenario())


def test_extras_read_any_row() -> None:
    assert OrderExtras.read({"scene_info": json.dumps(SCENE)}).device_id == "POS1:1"
    assert OrderExtras.read({"scene_info": SCENE}).device_id == "POS1:1"
    assert OrderExtras.read({"scene_info": {"device_id": 5}}).device_id is None
    assert OrderExtras.read({"scene_info": "garbage", "device_info": 5}) == OrderExtras()
    assert OrderExtras.read("not a mapping") == OrderExtras()
    assert OrderExtras.read(None) == OrderExtras()
    assert RefundExtras.read({"from": "x", "refund_account": 3}) == RefundExtras()
    given = OrderExtras.given(scene_info=json.dumps(SCENE), detail=json.dumps(DETAIL)).stored()
    assert (
        given
        == OrderExtras.given(scene_info=SCENE, detail=DETAIL).stored()
        == {
            "scene_info": SCENE,
            "detail": DETAIL,
        }
    )
    assert OrderExtras.given(detail="买单费用").stored() == {"detail": "买单费用"}

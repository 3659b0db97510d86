"""Combine (合单) payments, seed 004 (api/v3/combine.py), in process: the rules of re-entry, close and
time_expire, every row of seed 004's error table (by real input where a merchant can cause it, by the
faults control where only WeChat's side can), and the answer of every trade type, through hand-signed
requests whose answers' signatures are all checked (tests/support/combine.py). Moved from
tests/e2e/v3/test_combine.py, which keeps the flow through wechatpayv3 against the real server process.

The initiator (``combine_mchid``) runs in public-key mode and in certificate mode. Its sub-orders belong
to itself, to its sub-merchant and to a merchant bound to ``combine_appid``.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.combine import (
    FAULT_ROWS,
    MODES,
    NOTIFY_URL,
    PREPAY_LIFETIME,
    SCENE,
    TRADE_TYPES,
    UNKNOWN_MCHID,
    advance,
    arm,
    as_json,
    assert_control_error,
    assert_response_error,
    assert_v3_error,
    check_paid,
    check_unpaid,
    combine_body,
    decrypt_resource,
    emu_now,
    make_parties,
    prepay_id_of,
    rfc3339,
    signed_close,
    signed_place,
    signed_query,
    sub_order,
    three_subs,
    two_subs,
)
from tests.support.common import OPENID, new_trade_no
from tests.support.emulator import Emu
from tests.support.inproc import InProcEmulator
from tests.support.v3 import V3Api

KINDS = TRADE_TYPES  # the kinds of combine order, by their path
place = signed_place
query = signed_query
close = signed_close

# --- fixtures --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def parties(inproc: InProcEmulator, merchants: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return make_parties(inproc, merchants)


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def initiator(mode: str, merchants: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return merchants[mode]


@pytest.fixture
def api(v3api: Callable[[dict[str, Any]], V3Api], initiator: dict[str, Any]) -> V3Api:
    """Hand-signed requests from the initiator (in place of tests/e2e's wechatpayv3 client)."""
    return v3api(initiator)


@pytest.fixture
def pk(merchants: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The public-key initiator, for tests whose subject is not the key mode."""
    return merchants["pubkey"]


@pytest.fixture
def pk_api(v3api: Callable[[dict[str, Any]], V3Api], pk: dict[str, Any]) -> V3Api:
    return v3api(pk)


@pytest.fixture(autouse=True)
def no_faults(emu: Emu) -> Iterator[None]:
    """No armed fault leaks into or out of a test."""
    assert emu.control("DELETE", "/faults").status_code == 200
    yield
    assert emu.control("DELETE", "/faults").status_code == 200


# --- the answer of every trade type: place, pay, one notification, query -----------------------------------


@pytest.mark.parametrize("kind", list(KINDS))
def test_combine_paid_and_queried_in_every_trade_type(
    kind: str, mode: str, initiator: dict[str, Any], parties: dict[str, Any], api: V3Api, emu: Emu
) -> None:
    """What tests/e2e/v3/test_combine.py checks through wechatpayv3 for JSAPI, for every trade type; the
    notification is read from the control plane and decrypted here (nothing is delivered in process)."""
    subs = three_subs(initiator, parties, mode)
    combine_out_trade_no = new_trade_no(f"C{kind.upper()}")
    code, answer = place(api, kind, combine_out_trade_no, subs)
    assert code == 200, answer
    prepay_id = prepay_id_of(kind, answer)
    assert prepay_id.startswith("wx")
    if kind == "h5":
        assert answer["h5_url"].startswith(emu.url + "/emulator/v1/checkout?prepay_id=wx")

    code, unpaid = query(api, combine_out_trade_no)
    assert code == 200, unpaid
    check_unpaid(unpaid, kind, initiator, combine_out_trade_no, subs)
    assert emu.notifications() == []

    if kind in ("app", "jsapi"):
        paid = emu.pay(prepay_id=prepay_id)
    else:
        paid = emu.pay(combine_mchid=initiator["mchid"], combine_out_trade_no=combine_out_trade_no)
    assert paid.status_code == 200, paid.text
    # One notification for the whole combine order, not one per sub-order.
    [notification] = emu.notifications()
    assert notification["event_type"] == "TRANSACTION.SUCCESS" and notification["url"] == NOTIFY_URL
    event = json.loads(notification["body"])
    assert event["id"] == notification["id"] and event["resource_type"] == "encrypt-resource"
    resource = decrypt_resource(notification["body"], initiator["apiv3_key"])

    code, queried = query(api, combine_out_trade_no)
    assert code == 200
    assert resource == queried == paid.json()
    check_paid(queried, unpaid, kind, subs, emu)


def test_same_out_trade_no_for_different_merchants_in_one_combine(
    initiator: dict[str, Any], parties: dict[str, Any], api: V3Api
) -> None:
    """Seed 004: a sub-order's out_trade_no is unique under the combine_mchid (且在同一个合单商户号下唯一),
    so two sub-merchants may not share one, in one combine or across combines."""
    shared = new_trade_no("SHARED")
    subs = [sub_order(initiator["mchid"], shared), sub_order(parties["bound"]["mchid"], shared)]
    assert_v3_error(place(api, "app", new_trade_no("C"), subs), 400, "PARAM_ERROR")
    first = [sub_order(initiator["mchid"], shared), sub_order(initiator["mchid"], new_trade_no("S"))]
    code, answer = place(api, "app", new_trade_no("C"), first)
    assert code == 200, answer
    second = [sub_order(parties["bound"]["mchid"], shared), sub_order(initiator["mchid"], new_trade_no("S"))]
    assert_v3_error(place(api, "app", new_trade_no("C"), second), 403, "OUT_TRADE_NO_USED")


def test_close_unpaid_combine(
    initiator: dict[str, Any], parties: dict[str, Any], api: V3Api, emu: Emu
) -> None:
    subs = two_subs(initiator["mchid"], parties["bound"]["mchid"])
    combine_out_trade_no = new_trade_no("CLOSE")
    code, answer = place(api, "app", combine_out_trade_no, subs)
    assert code == 200, answer
    prepay_id = prepay_id_of("app", answer)

    # Close only the listed sub-order.
    code, body = close(api, combine_out_trade_no, subs[:1], combine_appid=initiator["appid"])
    assert (code, body) == (204, b"")
    code, queried = query(api, combine_out_trade_no)
    assert code == 200
    assert [s["trade_state"] for s in queried["sub_orders"]] == ["CLOSED", "NOTPAY"]

    # Close all: the closed one stays closed.
    code, body = close(api, combine_out_trade_no, subs)
    assert code == 204, body
    code, queried = query(api, combine_out_trade_no)
    assert code == 200
    assert [s["trade_state"] for s in queried["sub_orders"]] == ["CLOSED", "CLOSED"]
    assert all("transaction_id" not in s for s in queried["sub_orders"])

    # Paying it is refused, by either handle.
    assert_control_error(emu.pay(prepay_id=prepay_id), 409, "ORDER_CLOSED")
    assert_control_error(
        emu.pay(combine_mchid=initiator["mchid"], combine_out_trade_no=combine_out_trade_no),
        409,
        "ORDER_CLOSED",
    )
    # Seed 004: ORDER_CLOSED, 400, on re-entry of a closed combine order.
    assert_v3_error(place(api, "app", combine_out_trade_no, subs), 400, "ORDER_CLOSED")
    assert emu.notifications() == []  # nothing to deliver


def test_close_refuses_a_paid_combine_and_a_foreign_sub_order(
    initiator: dict[str, Any], parties: dict[str, Any], api: V3Api, emu: Emu
) -> None:
    subs = two_subs(initiator["mchid"], parties["bound"]["mchid"])
    combine_out_trade_no = new_trade_no("CLOSE")
    assert place(api, "native", combine_out_trade_no, subs)[0] == 200

    stranger = [sub_order(initiator["mchid"], new_trade_no("NOPE"))]
    code, text = close(api, combine_out_trade_no, stranger)
    assert_v3_error((code, as_json(text)), 404, "ORDER_NOT_EXIST")
    code, queried = query(api, combine_out_trade_no)
    assert code == 200, queried
    assert [s["trade_state"] for s in queried["sub_orders"]] == ["NOTPAY", "NOTPAY"]

    paid = emu.pay(combine_mchid=initiator["mchid"], combine_out_trade_no=combine_out_trade_no)
    assert paid.status_code == 200, paid.text
    code, text = close(api, combine_out_trade_no, subs)
    assert_v3_error((code, as_json(text)), 400, "ORDERPAID")


def test_reentry_with_identical_parameters_returns_the_same_prepay_id(
    initiator: dict[str, Any], parties: dict[str, Any], api: V3Api, emu: Emu
) -> None:
    subs = two_subs(initiator["mchid"], parties["bound"]["mchid"])
    combine_out_trade_no = new_trade_no("AGAIN")
    expire = rfc3339(emu_now(emu) + dt.timedelta(hours=1))
    first = place(api, "app", combine_out_trade_no, subs, time_expire=expire)
    assert first[0] == 200, first
    again = place(api, "app", combine_out_trade_no, subs, time_expire=expire)
    assert again == first
    # Still one combine order with two sub-orders.
    assert len(emu.orders_with(subs[0]["out_trade_no"])) == 1
    assert len(emu.orders_with(subs[1]["out_trade_no"])) == 1


def test_reentry_after_the_prepay_lifetime_gets_a_fresh_prepay_id(
    initiator: dict[str, Any], parties: dict[str, Any], api: V3Api, emu: Emu
) -> None:
    subs = two_subs(initiator["mchid"], parties["bound"]["mchid"])
    combine_out_trade_no = new_trade_no("FRESH")
    expire = rfc3339(emu_now(emu) + dt.timedelta(hours=3))
    code, answer = place(api, "jsapi", combine_out_trade_no, subs, time_expire=expire)
    assert code == 200, answer
    first = prepay_id_of("jsapi", answer)

    advance(emu, PREPAY_LIFETIME + 1)
    # The prepay_id has lapsed (2 hours) although time_expire has not passed.
    assert_control_error(emu.pay(prepay_id=first), 409, "ORDER_EXPIRED")

    code, answer = place(api, "jsapi", combine_out_trade_no, subs, time_expire=expire)
    assert code == 200, answer
    fresh = prepay_id_of("jsapi", answer)
    assert fresh != first
    assert emu.pay(prepay_id=first).status_code in (404, 409)
    paid = emu.pay(prepay_id=fresh)
    assert paid.status_code == 200, paid.text
    assert [s["trade_state"] for s in paid.json()["sub_orders"]] == ["SUCCESS", "SUCCESS"]
    assert len(emu.notifications()) == 1  # the fresh prepay_id's payment is notified

    # Seed 004 (ORDERPAID on the v3 table): a paid combine cannot be placed again.
    assert_v3_error(place(api, "jsapi", combine_out_trade_no, subs, time_expire=expire), 400, "ORDERPAID")
    assert_control_error(emu.pay(prepay_id=fresh), 409, "ORDER_PAID")


CHANGES: dict[str, Callable[[list[dict[str, Any]], dict[str, Any]], None]] = {
    "sub amount": lambda subs, extra: subs[0]["amount"].update(total_amount=11),
    "sub attach": lambda subs, extra: subs[1].update(attach="other"),
    "sub description": lambda subs, extra: subs[0].update(description="other"),
    "sub detail dropped": lambda subs, extra: subs[0].pop("detail"),
    "sub goods_tag": lambda subs, extra: subs[0].update(goods_tag="OTHER"),
    "sub profit_sharing": lambda subs, extra: subs[0].update(settle_info={"profit_sharing": True}),
    "sub out_trade_no": lambda subs, extra: subs[1].update(out_trade_no=new_trade_no("OTHER")),
    "sub-order added": lambda subs, extra: subs.append(sub_order(subs[0]["mchid"], new_trade_no("ADD"))),
    "notify_url": lambda subs, extra: extra.update(notify_url="http://127.0.0.1:9/other"),
    "time_expire": lambda subs, extra: extra.update(time_expire="2099-01-01T00:00:00+08:00"),
    "device_id": lambda subs, extra: extra.update(scene_info={**SCENE, "device_id": "POS2"}),
    "payer openid": lambda subs, extra: extra.update(combine_payer_info={"openid": OPENID + "x"}),
}


def test_reentry_with_changed_parameters_is_refused(
    initiator: dict[str, Any], parties: dict[str, Any], api: V3Api, emu: Emu
) -> None:
    subs = [
        *two_subs(initiator["mchid"], parties["bound"]["mchid"]),
        sub_order(initiator["mchid"], new_trade_no("THIRD")),
    ]
    combine_out_trade_no = new_trade_no("CHANGED")
    base: dict[str, Any] = {"combine_payer_info": {"openid": OPENID}}
    code, answer = place(api, "app", combine_out_trade_no, subs, **base)
    assert code == 200, answer

    variants: dict[str, tuple[str, list[dict[str, Any]], dict[str, Any]]] = {}
    for name, change in CHANGES.items():
        changed, extra = copy.deepcopy(subs), copy.deepcopy(base)
        change(changed, extra)
        variants[name] = ("app", changed, extra)
    variants["sub-order dropped"] = ("app", copy.deepcopy(subs[:2]), base)
    variants["trade type"] = ("native", copy.deepcopy(subs), base)
    for name, (kind, changed, extra) in variants.items():
        result = place(api, kind, combine_out_trade_no, changed, **extra)
        assert result[0] == 403, (name, result)
        assert_v3_error(result, 403, "OUT_TRADE_NO_USED")

    # The refused attempts changed nothing: identical parameters still get the same prepay_id.
    assert place(api, "app", combine_out_trade_no, subs, **base) == (code, answer)
    code, queried = query(api, combine_out_trade_no)
    assert code == 200, queried
    assert [(s["mchid"], s["out_trade_no"]) for s in queried["sub_orders"]] == [
        (s["mchid"], s["out_trade_no"]) for s in subs
    ]


def test_reentry_after_time_expire_is_refused(
    initiator: dict[str, Any], parties: dict[str, Any], api: V3Api, emu: Emu
) -> None:
    subs = two_subs(initiator["mchid"], parties["bound"]["mchid"])
    combine_out_trade_no = new_trade_no("EXPIRED")
    expire = rfc3339(emu_now(emu) + dt.timedelta(minutes=10))
    assert place(api, "h5", combine_out_trade_no, subs, time_expire=expire)[0] == 200
    advance(emu, 10 * 60 + 1)
    assert_v3_error(place(api, "h5", combine_out_trade_no, subs, time_expire=expire), 400, "INVALID_REQUEST")
    assert_control_error(
        emu.pay(combine_mchid=initiator["mchid"], combine_out_trade_no=combine_out_trade_no),
        409,
        "ORDER_EXPIRED",
    )


def test_time_expire_before_one_minute_is_raised_and_cannot_change(
    initiator: dict[str, Any], parties: dict[str, Any], api: V3Api, emu: Emu
) -> None:
    """Seed 004: a time_expire earlier than one minute after the order is raised to that minute; it is
    set only by the first request (seed 004's own example sends 2000-01-01)."""
    subs = two_subs(initiator["mchid"], parties["bound"]["mchid"])
    combine_out_trade_no = new_trade_no("RAISED")
    past = "2000-01-01T00:00:00+08:00"
    code, answer = place(api, "app", combine_out_trade_no, subs, time_expire=past)
    assert code == 200, answer
    for sub in subs:
        [order] = emu.orders_with(sub["out_trade_no"])
        created = dt.datetime.fromisoformat(order["created_at"])
        assert dt.datetime.fromisoformat(order["time_expire"]) - created == dt.timedelta(minutes=1)
        raised = order["time_expire"]

    assert place(api, "app", combine_out_trade_no, subs, time_expire=past) == (code, answer)
    # The raised value is not the parameter the merchant sent: sending it is a change.
    assert_v3_error(
        place(api, "app", combine_out_trade_no, subs, time_expire=raised), 403, "OUT_TRADE_NO_USED"
    )
    assert_v3_error(place(api, "app", combine_out_trade_no, subs), 403, "OUT_TRADE_NO_USED")
    advance(emu, 61)
    assert_v3_error(place(api, "app", combine_out_trade_no, subs, time_expire=past), 400, "INVALID_REQUEST")


def test_sub_order_paid_alone_is_refused(
    initiator: dict[str, Any], parties: dict[str, Any], api: V3Api, emu: Emu
) -> None:
    subs = two_subs(initiator["mchid"], parties["bound"]["mchid"])
    combine_out_trade_no = new_trade_no("ALONE")
    assert place(api, "app", combine_out_trade_no, subs)[0] == 200
    for sub in subs:
        response = emu.pay(mchid=sub["mchid"], out_trade_no=sub["out_trade_no"])
        assert response.status_code >= 400, response.text
        body = response.json()
        assert set(body) == {"code", "message"} and body["code"] == "INVALID_REQUEST", body
    code, queried = query(api, combine_out_trade_no)
    assert code == 200, queried
    assert [s["trade_state"] for s in queried["sub_orders"]] == ["NOTPAY", "NOTPAY"]
    assert emu.notifications() == []  # nothing to deliver


def test_sub_order_paid_alone_answers_409(
    pk: dict[str, Any], parties: dict[str, Any], pk_api: V3Api, emu: Emu
) -> None:
    subs = two_subs(pk["mchid"], parties["bound"]["mchid"])
    body = combine_body(pk, subs, "http://127.0.0.1:9/notify")
    response = pk_api.request("POST", "/v3/combine-transactions/app", body)
    assert response.status_code == 200, response.text
    assert_control_error(
        emu.pay(mchid=subs[0]["mchid"], out_trade_no=subs[0]["out_trade_no"]), 409, "INVALID_REQUEST"
    )


def test_h5_url_of_a_combine_opens_a_checkout_that_pays_it(
    pk: dict[str, Any], parties: dict[str, Any], pk_api: V3Api, emu: Emu
) -> None:
    body = combine_body(pk, two_subs(pk["mchid"], parties["bound"]["mchid"]), "http://127.0.0.1:9/notify")
    response = pk_api.request("POST", "/v3/combine-transactions/h5", body)
    assert response.status_code == 200, response.text
    h5_url = response.json()["h5_url"]
    prepay_id = prepay_id_of("h5", response.json())
    page = emu.http.get(h5_url)
    assert page.status_code == 200, (page.status_code, "prepay_id无效" in page.text)
    assert "立即支付" in page.text and "¥0.30" in page.text
    form = {"prepay_id": prepay_id, "result": "SUCCESS"}
    paid = emu.http.post(emu.url + "/emulator/v1/checkout", data=form, follow_redirects=True)
    assert paid.status_code == 200 and "支付成功" in paid.text, paid.text
    queried = pk_api.request("GET", f"/v3/combine-transactions/out-trade-no/{body['combine_out_trade_no']}")
    assert [s["trade_state"] for s in queried.json()["sub_orders"]] == ["SUCCESS", "SUCCESS"]


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A mutation setting (or, with value ``...``, deleting) a dotted path of the body."""

    def mutate(body: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = body
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        key: Any = int(last) if isinstance(node, list) else last
        if value is ...:
            del node[key]
        else:
            node[key] = value

    return mutate


def _many_subs(n: int) -> Callable[[dict[str, Any]], None]:
    def mutate(body: dict[str, Any]) -> None:
        first = body["sub_orders"][0]
        body["sub_orders"] = [{**first, "out_trade_no": new_trade_no(f"N{i}")} for i in range(n)]

    return mutate


def _duplicate(body: dict[str, Any]) -> None:
    body["sub_orders"][1] = {**body["sub_orders"][0], "attach": "其它"}


CTN = "combine_out_trade_no"


PARAM_ERRORS: dict[str, tuple[str, Callable[[dict[str, Any]], None], str | None]] = {
    # name: (kind, mutation, expected detail.field or None)
    "combine_out_trade_no 5 chars": ("app", _set(CTN, "12345"), CTN),
    "combine_out_trade_no 33 chars": ("app", _set(CTN, "1" * 33), CTN),
    "combine_out_trade_no space": ("app", _set(CTN, "abc def1"), CTN),
    "combine_out_trade_no chinese": (
        "app",
        _set("combine_out_trade_no", "订单123456"),
        "combine_out_trade_no",
    ),
    "combine_out_trade_no missing": ("app", _set(CTN, ...), CTN),
    "combine_appid missing": ("app", _set("combine_appid", ...), "combine_appid"),
    "combine_appid 33 chars": ("app", _set("combine_appid", "w" * 33), "combine_appid"),
    "combine_mchid missing": ("app", _set("combine_mchid", ...), "combine_mchid"),
    "notify_url missing": ("app", _set("notify_url", ...), "notify_url"),
    "notify_url not a URL": ("app", _set("notify_url", "yourapp.com/notify"), "notify_url"),
    "notify_url 256 chars": ("app", _set("notify_url", "https://a.cn/" + "x" * 243), "notify_url"),
    "sub_orders missing": ("app", _set("sub_orders", ...), "sub_orders"),
    "sub_orders not a list": ("app", _set("sub_orders", {"mchid": "1"}), "sub_orders"),
    "one sub-order": ("app", _many_subs(1), "sub_orders"),
    "eleven sub-orders": ("app", _many_subs(11), "sub_orders"),
    "no sub-orders": ("app", _many_subs(0), "sub_orders"),
    "sub mchid missing": ("app", _set("sub_orders.0.mchid", ...), "sub_orders.0.mchid"),
    "sub attach missing": ("app", _set("sub_orders.0.attach", ...), "sub_orders.0.attach"),
    "sub attach 129 chars": ("app", _set("sub_orders.1.attach", "附" * 129), "sub_orders.1.attach"),
    "sub description missing": ("app", _set("sub_orders.0.description", ...), "sub_orders.0.description"),
    "sub description 128": ("app", _set("sub_orders.0.description", "d" * 128), "sub_orders.0.description"),
    "sub detail 6001": ("app", _set("sub_orders.0.detail", "d" * 6001), "sub_orders.0.detail"),
    "sub goods_tag 33": ("app", _set("sub_orders.0.goods_tag", "g" * 33), "sub_orders.0.goods_tag"),
    "sub amount missing": ("app", _set("sub_orders.0.amount", ...), "sub_orders.0.amount"),
    "sub total_amount 0": ("app", _set("sub_orders.0.amount.total_amount", 0), None),
    "sub total_amount -1": ("app", _set("sub_orders.0.amount.total_amount", -1), None),
    "sub total_amount 2^31": ("app", _set("sub_orders.0.amount.total_amount", 2**31), None),
    "sub total_amount string": ("app", _set("sub_orders.0.amount.total_amount", "100"), None),
    "sub out_trade_no 5 chars": (
        "app",
        _set("sub_orders.1.out_trade_no", "12345"),
        "sub_orders.1.out_trade_no",
    ),
    "sub out_trade_no bad char": (
        "app",
        _set("sub_orders.1.out_trade_no", "a.b.c.d"),
        "sub_orders.1.out_trade_no",
    ),
    "duplicate sub-order": ("app", _duplicate, "sub_orders.1.out_trade_no"),
    "jsapi without openid": ("jsapi", _set("combine_payer_info", ...), "combine_payer_info.openid"),
    "jsapi with empty payer info": ("jsapi", _set("combine_payer_info", {}), "combine_payer_info.openid"),
    "openid 129 chars": ("app", _set("combine_payer_info.openid", "o" * 129), "combine_payer_info.openid"),
    "payer_client_ip missing": ("app", _set("scene_info.payer_client_ip", ...), "scene_info.payer_client_ip"),
    "payer_client_ip 46": ("app", _set("scene_info.payer_client_ip", "1" * 46), "scene_info.payer_client_ip"),
    "device_id 17 chars": ("app", _set("scene_info.device_id", "d" * 17), "scene_info.device_id"),
    "h5 without scene_info": ("h5", _set("scene_info", ...), "scene_info"),
    "time_expire not rfc3339": ("app", _set("time_expire", "2099-01-01 00:00:00"), "time_expire"),
    "time_expire without zone": ("app", _set("time_expire", "2099-01-01T00:00:00"), "time_expire"),
}


@pytest.mark.parametrize("case", list(PARAM_ERRORS))
def test_param_error(case: str, pk: dict[str, Any], parties: dict[str, Any], pk_api: V3Api, emu: Emu) -> None:
    kind, mutate, field = PARAM_ERRORS[case]
    body = combine_body(pk, two_subs(pk["mchid"], parties["bound"]["mchid"]), "http://127.0.0.1:9/notify")
    mutate(body)
    response = pk_api.request("POST", f"/v3/combine-transactions/{kind}", body)
    answer = assert_response_error(response, 400, "PARAM_ERROR")
    pk_api.assert_signed(response)
    if field is not None:
        assert answer["detail"]["field"] == field, answer
    assert emu.orders() == []  # nothing written


def test_the_untouched_base_body_is_accepted(
    pk: dict[str, Any], parties: dict[str, Any], pk_api: V3Api, emu: Emu
) -> None:
    """The control for test_param_error: its base body, hand-signed, places a combine order."""
    subs = two_subs(pk["mchid"], parties["bound"]["mchid"])
    subs[0]["detail"] = "d" * 6000
    subs[0]["attach"] = "附" * 128
    subs[1]["description"] = "d" * 127
    subs[1]["goods_tag"] = "g" * 32
    for kind in KINDS:
        body = combine_body(pk, copy.deepcopy(subs), "http://127.0.0.1:9/notify")
        body["sub_orders"][0]["out_trade_no"] = new_trade_no("OK")
        body["sub_orders"][1]["out_trade_no"] = new_trade_no("OK")
        response = pk_api.request("POST", f"/v3/combine-transactions/{kind}", body)
        assert response.status_code == 200, (kind, response.text)
        pk_api.assert_signed(response)


def test_invalid_request(pk: dict[str, Any], parties: dict[str, Any], pk_api: V3Api, emu: Emu) -> None:
    subs = two_subs(pk["mchid"], parties["bound"]["mchid"])
    # combine_mchid in the body is not the merchant that signed.
    body = combine_body(pk, subs, "http://127.0.0.1:9/notify")
    body["combine_mchid"] = parties["bound"]["mchid"]
    response = pk_api.request("POST", "/v3/combine-transactions/app", body)
    assert_response_error(response, 400, "INVALID_REQUEST")
    pk_api.assert_signed(response)
    # No body at all.
    response = pk_api.request("POST", "/v3/combine-transactions/native", b"")
    assert_response_error(response, 400, "INVALID_REQUEST")
    assert emu.orders() == []


def test_sign_error(
    pk: dict[str, Any], parties: dict[str, Any], pk_api: V3Api, v3api: Callable[..., V3Api], emu: Emu
) -> None:
    body = combine_body(pk, two_subs(pk["mchid"], parties["bound"]["mchid"]), "http://127.0.0.1:9/notify")
    raw = json.dumps(body).encode()
    tampered = raw.replace(b'"total_amount": 10', b'"total_amount": 1')
    assert tampered != raw
    response = pk_api.request("POST", "/v3/combine-transactions/app", raw, sent_body=tampered)
    assert_response_error(response, 401, "SIGN_ERROR")
    # Signed with another merchant's key.
    other = v3api(parties["bound"]).key
    response = pk_api.request("POST", "/v3/combine-transactions/app", raw, key=other)
    assert_response_error(response, 401, "SIGN_ERROR")
    # No signature at all.
    response = emu.http.post(
        emu.url + "/v3/combine-transactions/app", content=raw, headers={"Content-Type": "application/json"}
    )
    assert_response_error(response, 401, "SIGN_ERROR")
    # Query and close are signed too.
    path = f"/v3/combine-transactions/out-trade-no/{body['combine_out_trade_no']}"
    response = pk_api.request("GET", path, timestamp=1)
    assert_response_error(response, 401, "SIGN_ERROR")
    assert emu.orders() == []


def test_appid_mchid_not_match(
    initiator: dict[str, Any], parties: dict[str, Any], api: V3Api, emu: Emu
) -> None:
    # combine_appid not bound to combine_mchid.
    subs = two_subs(initiator["mchid"], parties["bound"]["mchid"])
    result = place(api, "app", new_trade_no("C"), subs, combine_appid=parties["unbound"]["appid"])
    assert assert_v3_error(result, 400, "APPID_MCHID_NOT_MATCH")["detail"]["field"] == "combine_appid"
    # A sub-order merchant that is neither the initiator, its sub-merchant, nor bound to combine_appid.
    subs = two_subs(initiator["mchid"], parties["unbound"]["mchid"])
    result = place(api, "jsapi", new_trade_no("C"), subs)
    assert assert_v3_error(result, 400, "APPID_MCHID_NOT_MATCH")["detail"]["field"] == "sub_orders.1.mchid"
    # Another initiator's sub-merchant is not this one's.
    other = "cert" if initiator["key_mode"] == "pubkey" else "pubkey"
    subs = two_subs(initiator["mchid"], parties[f"sub_{other}"]["mchid"])
    assert_v3_error(place(api, "native", new_trade_no("C"), subs), 400, "APPID_MCHID_NOT_MATCH")
    assert emu.orders() == []


def test_mch_not_exists(initiator: dict[str, Any], api: V3Api, emu: Emu) -> None:
    subs = two_subs(initiator["mchid"], UNKNOWN_MCHID)
    result = place(api, "app", new_trade_no("C"), subs)
    body = assert_v3_error(result, 400, "MCH_NOT_EXISTS")
    assert body["detail"]["field"] == "sub_orders.1.mchid" and body["detail"]["value"] == UNKNOWN_MCHID
    assert emu.orders() == []


def test_out_trade_no_used_by_another_order_of_the_sub_merchant(
    initiator: dict[str, Any], parties: dict[str, Any], api: V3Api, emu: Emu
) -> None:
    # A direct (non-combine) order of the initiator holds this number.
    direct = new_trade_no("DIRECT")
    direct_body = {
        "appid": initiator["appid"],
        "mchid": initiator["mchid"],
        "description": "直连订单",
        "out_trade_no": direct,
        "notify_url": NOTIFY_URL,
        "amount": {"total": 1},
    }
    placed = api.request("POST", "/v3/pay/transactions/native", direct_body)
    assert placed.status_code == 200, placed.text
    subs = [sub_order(initiator["mchid"], direct), sub_order(parties["bound"]["mchid"], new_trade_no("B"))]
    combine_out_trade_no = new_trade_no("USED")
    body = assert_v3_error(place(api, "app", combine_out_trade_no, subs), 403, "OUT_TRADE_NO_USED")
    assert body["detail"]["field"] == "sub_orders.0.out_trade_no"
    assert_v3_error(query(api, combine_out_trade_no), 404, "ORDER_NOT_EXIST")  # nothing written
    assert emu.orders_with(subs[1]["out_trade_no"]) == []

    # A sub-order of another combine order holds this number for the bound merchant.
    first = two_subs(initiator["mchid"], parties["bound"]["mchid"])
    assert place(api, "app", new_trade_no("FIRST"), first)[0] == 200
    second = [sub_order(initiator["mchid"], new_trade_no("NEW")), copy.deepcopy(first[1])]
    combine_out_trade_no = new_trade_no("SECOND")
    body = assert_v3_error(place(api, "app", combine_out_trade_no, second), 403, "OUT_TRADE_NO_USED")
    assert body["detail"]["field"] == "sub_orders.1.out_trade_no"
    assert_v3_error(query(api, combine_out_trade_no), 404, "ORDER_NOT_EXIST")
    assert emu.orders_with(second[0]["out_trade_no"]) == []


def test_query_of_an_unknown_or_foreign_combine(
    initiator: dict[str, Any], parties: dict[str, Any], api: V3Api, emu: Emu, v3api: Any
) -> None:
    assert_v3_error(query(api, new_trade_no("NOPE")), 404, "ORDER_NOT_EXIST")
    combine_out_trade_no = new_trade_no("MINE")
    subs = two_subs(initiator["mchid"], parties["bound"]["mchid"])
    assert place(api, "app", combine_out_trade_no, subs)[0] == 200
    # A participant is not the initiator: it cannot look the combine order up.
    response = v3api(parties["bound"]).request(
        "GET", f"/v3/combine-transactions/out-trade-no/{combine_out_trade_no}"
    )
    assert_response_error(response, 404, "ORDER_NOT_EXIST")


@pytest.mark.parametrize(("code", "status"), FAULT_ROWS)
def test_fault_rows_on_prepay(
    code: str,
    status: int,
    initiator: dict[str, Any],
    parties: dict[str, Any],
    api: V3Api,
    emu: Emu,
) -> None:
    subs = two_subs(initiator["mchid"], parties["bound"]["mchid"])
    combine_out_trade_no = new_trade_no("FAULT")
    arm(emu, "combine.prepay", code)
    # Hand-signed, to check that the injected answer is signed like any APIv3 answer.
    body = combine_body(initiator, subs, "http://127.0.0.1:9/notify")
    body["combine_out_trade_no"] = combine_out_trade_no
    response = api.request("POST", "/v3/combine-transactions/app", body)
    assert_response_error(response, status, code)
    api.assert_signed(response)
    assert emu.control("GET", "/faults").json() == {"pending": {}}
    assert_v3_error(query(api, combine_out_trade_no), 404, "ORDER_NOT_EXIST")  # nothing written

    # The fault is spent: the same request now places the order. Armed again, it answers another kind
    # (tests/e2e/v3/test_combine.py sends every row through wechatpayv3).
    response = api.request("POST", "/v3/combine-transactions/app", body)
    assert response.status_code == 200, response.text
    arm(emu, "combine.prepay", code)
    other = two_subs(initiator["mchid"], parties["bound"]["mchid"])
    assert_v3_error(place(api, "native", new_trade_no("FAULT"), other), status, code)


def test_faults_on_query_and_close(
    initiator: dict[str, Any], parties: dict[str, Any], api: V3Api, emu: Emu
) -> None:
    subs = two_subs(initiator["mchid"], parties["bound"]["mchid"])
    combine_out_trade_no = new_trade_no("FQ")
    assert place(api, "app", combine_out_trade_no, subs)[0] == 200

    arm(emu, "combine.query", "SYSTEMERROR", count=2)
    assert_v3_error(query(api, combine_out_trade_no), 500, "SYSTEMERROR")
    assert_v3_error(query(api, combine_out_trade_no), 500, "SYSTEMERROR")
    assert query(api, combine_out_trade_no)[0] == 200

    arm(emu, "combine.close", "FREQUENCY_LIMITED")
    code, text = close(api, combine_out_trade_no, subs)
    assert_v3_error((code, as_json(text)), 429, "FREQUENCY_LIMITED")
    code, queried = query(api, combine_out_trade_no)
    assert code == 200, queried
    assert [s["trade_state"] for s in queried["sub_orders"]] == ["NOTPAY", "NOTPAY"]  # not closed
    assert close(api, combine_out_trade_no, subs)[0] == 204


def test_faults_wait_for_authentication_and_can_be_cleared(
    pk: dict[str, Any], parties: dict[str, Any], pk_api: V3Api, emu: Emu
) -> None:
    arm(emu, "combine.prepay", "RULELIMIT")
    body = combine_body(pk, two_subs(pk["mchid"], parties["bound"]["mchid"]), "http://127.0.0.1:9/notify")
    raw = json.dumps(body).encode()
    response = pk_api.request("POST", "/v3/combine-transactions/app", raw, sent_body=raw + b" ")
    assert_response_error(response, 401, "SIGN_ERROR")
    # A request that fails authentication does not spend the fault.
    assert emu.control("GET", "/faults").json() == {"pending": {"combine.prepay": ["RULELIMIT"]}}
    assert emu.control("DELETE", "/faults").json() == {"pending": {}}
    response = pk_api.request("POST", "/v3/combine-transactions/app", raw)
    assert response.status_code == 200, response.text


def test_faults_control_refuses_unknown_operations_and_codes(emu: Emu) -> None:
    response = emu.control("POST", "/faults", json={"operation": "combine.refund", "code": "SYSTEMERROR"})
    assert_control_error(response, 400, "PARAM_ERROR")
    response = emu.control("POST", "/faults", json={"operation": "combine.prepay", "code": "NOPE"})
    assert_control_error(response, 400, "PARAM_ERROR")
    assert emu.control("GET", "/faults").json() == {"pending": {}}

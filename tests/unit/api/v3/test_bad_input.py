"""Bad input on correctly signed APIv3 requests (api/v3/wire.py, parsing.py, routes.py), in process:
WeChat's status and code, no order written, never a 500. Moved from tests/e2e/v3/test_bad_input.py."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest

NOTIFY_URL = "https://merchant.example/wxpay/notify"

Body = dict[str, Any]


def with_amount(total: Any) -> Callable[[Body], Body]:
    return lambda b: {**b, "amount": {"total": total, "currency": "CNY"}}


def without(field: str) -> Callable[[Body], Body]:
    return lambda b: {k: v for k, v in b.items() if k != field}


def replace(**changes: Any) -> Callable[[Body], Body]:
    return lambda b: {**b, **changes}


# (id, kind, mutation, status, code, detail.field or None)
CASES: list[tuple[str, str, Callable[[Body], Body | bytes], int, str, str | None]] = [
    ("malformed-json", "jsapi", lambda b: json.dumps(b).encode()[:-7], 400, "PARAM_ERROR", None),
    ("not-utf8", "jsapi", lambda b: b'{"appid": "\xff\xfe"}', 400, "PARAM_ERROR", None),
    ("json-array", "jsapi", lambda b: json.dumps([b]).encode(), 400, "PARAM_ERROR", None),
    ("empty-body", "jsapi", lambda b: b"", 400, "INVALID_REQUEST", None),
    ("total-as-string", "jsapi", with_amount("100"), 400, "PARAM_ERROR", "amount.total"),
    ("total-as-float", "native", with_amount(1.5), 400, "PARAM_ERROR", "amount.total"),
    ("total-as-bool", "native", with_amount(True), 400, "PARAM_ERROR", "amount.total"),
    ("total-zero", "native", with_amount(0), 400, "PARAM_ERROR", "amount.total"),
    ("total-negative", "app", with_amount(-1), 400, "PARAM_ERROR", "amount.total"),
    # WeChat's integers are 32-bit; beyond, the store's INTEGER column would overflow (a 500)
    ("total-2**31", "app", with_amount(2**31), 400, "PARAM_ERROR", "amount.total"),
    ("total-2**63", "app", with_amount(2**63), 400, "PARAM_ERROR", "amount.total"),
    ("total-10**30", "app", with_amount(10**30), 400, "PARAM_ERROR", "amount.total"),
    ("amount-missing", "app", without("amount"), 400, "PARAM_ERROR", "amount"),
    ("amount-not-object", "app", replace(amount=100), 400, "PARAM_ERROR", "amount"),
    ("description-missing", "jsapi", without("description"), 400, "PARAM_ERROR", "description"),
    ("description-empty", "jsapi", replace(description=""), 400, "PARAM_ERROR", "description"),
    ("description-128", "jsapi", replace(description="d" * 128), 400, "PARAM_ERROR", "description"),
    ("description-not-string", "jsapi", replace(description=123), 400, "PARAM_ERROR", "description"),
    # no WeChat field holds a NUL (and PostgreSQL text cannot store one)
    ("description-nul", "jsapi", replace(description="零\u0000字节"), 400, "PARAM_ERROR", "description"),
    ("attach-nul", "jsapi", replace(attach="a\u0000"), 400, "PARAM_ERROR", "attach"),
    ("openid-nul", "jsapi", replace(payer={"openid": "o\u0000x"}), 400, "PARAM_ERROR", "payer.openid"),
    ("out-trade-no-5", "jsapi", replace(out_trade_no="A2345"), 400, "PARAM_ERROR", "out_trade_no"),
    ("out-trade-no-33", "jsapi", replace(out_trade_no="B" * 33), 400, "PARAM_ERROR", "out_trade_no"),
    (
        "out-trade-no-bad-char",
        "jsapi",
        replace(out_trade_no="ORDER 0001"),
        400,
        "PARAM_ERROR",
        "out_trade_no",
    ),
    ("notify-url-missing", "native", without("notify_url"), 400, "PARAM_ERROR", "notify_url"),
    (
        "notify-url-not-http",
        "native",
        replace(notify_url="ftp://x.example/n"),
        400,
        "PARAM_ERROR",
        "notify_url",
    ),
    ("appid-missing", "native", without("appid"), 400, "PARAM_ERROR", "appid"),
    ("jsapi-without-payer", "jsapi", without("payer"), 400, "PARAM_ERROR", "payer.openid"),
    ("jsapi-payer-without-openid", "jsapi", replace(payer={}), 400, "PARAM_ERROR", "payer.openid"),
    ("h5-without-scene-info", "h5", without("scene_info"), 400, "PARAM_ERROR", "scene_info.h5_info"),
    ("time-expire-not-rfc3339", "native", replace(time_expire="tomorrow"), 400, "PARAM_ERROR", "time_expire"),
    ("appid-not-bound", "jsapi", replace(appid="wx0000000000000000"), 400, "APPID_MCHID_NOT_MATCH", "appid"),
]


@pytest.fixture
def api(v3api: Any, merchants: dict[str, dict[str, Any]]) -> Any:
    return v3api(merchants["pubkey"])


def base_body(api: Any, kind: str, out_trade_no: str) -> Body:
    body: Body = api.prepay_body(out_trade_no, NOTIFY_URL)
    if kind != "jsapi":
        del body["payer"]
    if kind == "h5":
        body["scene_info"] = {"payer_client_ip": "127.0.0.1", "h5_info": {"type": "Wap"}}
    return body


def assert_no_order(emu: Any, *out_trade_nos: str) -> None:
    written = [o for o in emu.orders() if o["transaction"]["out_trade_no"] in out_trade_nos]
    assert written == [], written


@pytest.mark.parametrize("kind", ["jsapi", "app", "h5", "native"])
def test_the_base_bodies_are_accepted(api: Any, emu: Any, trade_no: Any, kind: str) -> None:
    """The control: each bad case below differs from an accepted body by the one defect it names."""
    out_trade_no = trade_no()
    response = api.request("POST", f"/v3/pay/transactions/{kind}", base_body(api, kind, out_trade_no))
    assert response.status_code == 200, response.text
    api.assert_signed(response)
    assert len(emu.orders_with(out_trade_no)) == 1


@pytest.mark.parametrize(
    ("kind", "mutate", "status", "code", "field"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_prepay_body(
    api: Any,
    emu: Any,
    trade_no: Any,
    kind: str,
    mutate: Callable[[Body], Body | bytes],
    status: int,
    code: str,
    field: str | None,
) -> None:
    out_trade_no = trade_no()
    body = mutate(base_body(api, kind, out_trade_no))
    response = api.request("POST", f"/v3/pay/transactions/{kind}", body)
    assert response.status_code == status, response.text
    answer = response.json()
    assert answer["code"] == code, answer
    assert answer["message"]
    if field is not None:
        assert answer["detail"]["field"] == field, answer
        assert answer["detail"]["location"] == "body"
        assert answer["detail"]["issue"]
    sent = body if isinstance(body, dict) else {}
    assert_no_order(emu, out_trade_no, str(sent.get("out_trade_no", out_trade_no)))
    assert emu.orders() == []


@pytest.mark.parametrize(("length", "accepted"), [(127, True), (128, False)])
def test_description_length_in_chinese_characters(
    api: Any, emu: Any, trade_no: Any, length: int, accepted: bool
) -> None:
    """WeChat counts characters (string(127)), not UTF-8 bytes."""
    out_trade_no = trade_no()
    body = replace(description="商" * length)(base_body(api, "native", out_trade_no))
    response = api.request("POST", "/v3/pay/transactions/native", body)
    assert response.status_code == (200 if accepted else 400), response.text
    assert len(emu.orders_with(out_trade_no)) == (1 if accepted else 0)


@pytest.mark.parametrize("out_trade_no", ["A23456", "C" * 32, "a-b_c|d*e"])
def test_out_trade_no_limits_accepted(api: Any, emu: Any, out_trade_no: str) -> None:
    response = api.request("POST", "/v3/pay/transactions/native", base_body(api, "native", out_trade_no))
    assert response.status_code == 200, response.text
    assert len(emu.orders_with(out_trade_no)) == 1


# time_expire must exist both in UTC and in Beijing time (years 1..9999), or it is a PARAM_ERROR.
@pytest.mark.parametrize("time_expire", ["0001-01-01T00:00:00+08:00", "9999-12-31T23:59:59-12:00"])
def test_time_expire_outside_datetime_range(api: Any, emu: Any, trade_no: Any, time_expire: str) -> None:
    out_trade_no = trade_no()
    body = replace(time_expire=time_expire)(base_body(api, "native", out_trade_no))
    response = api.request("POST", "/v3/pay/transactions/native", body)
    assert response.status_code == 400, response.text
    answer = response.json()
    assert answer["code"] == "PARAM_ERROR" and answer["detail"]["field"] == "time_expire", answer


def test_a_far_time_expire_does_not_break_the_order_listing(api: Any, emu: Any, trade_no: Any) -> None:
    """9999-12-31T23:59:59Z is 10000-01-01 in Beijing: refused, so that no stored order can break the
    listing (order_view renders times in Beijing time)."""
    body = replace(time_expire="9999-12-31T23:59:59Z")(base_body(api, "native", trade_no()))
    response = api.request("POST", "/v3/pay/transactions/native", body)
    assert response.status_code == 400, response.text
    listing = emu.control("GET", "/orders")
    assert listing.status_code == 200, listing.text


def test_time_expire_in_the_past_is_raised_to_one_minute(api: Any, emu: Any, trade_no: Any) -> None:
    """DESIGN.md §2: a time_expire earlier than one minute after creation is raised to one minute."""
    out_trade_no = trade_no()
    body = replace(time_expire="2020-01-01T00:00:00+08:00")(base_body(api, "native", out_trade_no))
    response = api.request("POST", "/v3/pay/transactions/native", body)
    assert response.status_code == 200, response.text
    [order] = emu.orders_with(out_trade_no)
    created = dt.datetime.fromisoformat(order["created_at"])
    expire = dt.datetime.fromisoformat(order["time_expire"])
    assert dt.timedelta(seconds=59) <= expire - created <= dt.timedelta(seconds=61)
    assert order["prepay_expires_at"] == order["time_expire"]


def test_largest_32_bit_total_is_accepted(api: Any, emu: Any, trade_no: Any) -> None:
    out_trade_no = trade_no()
    response = api.request(
        "POST", "/v3/pay/transactions/app", with_amount(2**31 - 1)(base_body(api, "app", out_trade_no))
    )
    assert response.status_code == 200, response.text
    [order] = emu.orders_with(out_trade_no)
    assert order["transaction"]["amount"]["total"] == 2**31 - 1


def test_body_mchid_differs_from_authorization(
    api: Any, merchants: dict[str, dict[str, Any]], emu: Any, trade_no: Any
) -> None:
    other = merchants["cert"]
    out_trade_no = trade_no()
    body = replace(mchid=other["mchid"])(base_body(api, "native", out_trade_no))
    response = api.request("POST", "/v3/pay/transactions/native", body)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "INVALID_REQUEST"
    assert emu.orders(api.merchant["mchid"]) == [] and emu.orders(other["mchid"]) == []


def test_query_and_close_with_a_foreign_or_missing_mchid(
    api: Any, merchants: dict[str, dict[str, Any]], emu: Any, trade_no: Any
) -> None:
    out_trade_no = trade_no()
    placed = api.request("POST", "/v3/pay/transactions/native", base_body(api, "native", out_trade_no))
    assert placed.status_code == 200, placed.text
    other = merchants["cert"]["mchid"]
    path = f"/v3/pay/transactions/out-trade-no/{out_trade_no}"

    foreign = api.request("GET", f"{path}?mchid={other}")
    assert foreign.status_code == 400 and foreign.json()["code"] == "INVALID_REQUEST", foreign.text
    missing = api.request("GET", path)
    assert missing.status_code == 400 and missing.json()["code"] == "PARAM_ERROR", missing.text
    assert missing.json()["detail"]["field"] == "mchid"

    close = api.request("POST", f"{path}/close", {"mchid": other})
    assert close.status_code == 400 and close.json()["code"] == "INVALID_REQUEST", close.text
    close_empty = api.request("POST", f"{path}/close", {})
    assert close_empty.status_code == 400 and close_empty.json()["code"] == "PARAM_ERROR", close_empty.text
    [order] = emu.orders_with(out_trade_no)
    assert order["transaction"]["trade_state"] == "NOTPAY"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v3/profitsharing/orders/P0001?sub_mchid=1900000109"),
        ("POST", "/v3/pay/transactions/codepay"),
        ("POST", "/v3/marketing/favor/users/o1/coupons"),
        ("DELETE", "/v3/pay/transactions/out-trade-no/X00001"),
        ("GET", "/v3/no/such/path"),
    ],
)
def test_unknown_v3_path(api: Any, emu: Any, method: str, path: str) -> None:
    body = None if method in ("GET", "DELETE") else {"mchid": api.merchant["mchid"]}
    response = api.request(method, path, body)
    assert response.status_code == 404, response.text
    answer = response.json()
    assert answer["code"] == "EMULATOR_NOT_IMPLEMENTED"
    assert path.split("?")[0] in answer["message"]
    assert emu.orders() == []


@pytest.mark.parametrize(
    "body",
    [
        {"amount": {"total": 2**64 + 1}},
        {"amount": {"total": 100, "currency": "C" * 17}},
        {"goods_tag": "\u0000"},
        {
            "detail": {
                "cost_price": 2**31,
                "goods_detail": [{"merchant_goods_id": "1", "quantity": 1, "unit_price": 1}],
            }
        },
        {"detail": {"goods_detail": [{"merchant_goods_id": "1", "quantity": 2**40, "unit_price": 1}]}},
        {"attach": "a" * 129},
        {
            "goods_tag": None,
            "detail": {"goods_detail": [{"merchant_goods_id": "1", "quantity": 0, "unit_price": 1}]},
        },
        {"scene_info": {"payer_client_ip": "1" * 46}},
        {"scene_info": "not an object"},
        {"time_expire": "2026-13-45T99:00:00+08:00"},
        {"settle_info": {"profit_sharing": "yes"}},
        {"payer": {"openid": ["x"]}},
        {"support_fapiao": "true"},
    ],
    ids=lambda b: "-".join(b),
)
def test_odd_values_never_answer_500(api: Any, emu: Any, trade_no: Any, body: dict[str, Any]) -> None:
    out_trade_no = trade_no()
    response = api.request(
        "POST", "/v3/pay/transactions/jsapi", {**base_body(api, "jsapi", out_trade_no), **body}
    )
    assert response.status_code < 500, response.text
    answer = response.json()
    if response.status_code >= 400:
        assert answer["code"] in ("PARAM_ERROR", "INVALID_REQUEST"), answer
        assert emu.orders_with(out_trade_no) == []

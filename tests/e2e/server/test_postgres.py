"""Everything on PostgreSQL, on one emulator process and one fresh database for the module (dropped
after): the APIv3 flow written here, and the APIv2, cloud, Mini Program and refund flows and the
parallel refunds of their own modules, imported here (pytest resolves their fixtures in this module,
whose ``emulator_database_url`` is the PostgreSQL database).

Needs the server on 127.0.0.1:5432 (user postgres, maintenance database ``test``). Without it the module
is skipped with the reason, except in CI (``CI`` set), where it fails.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from wechatpayv3 import WeChatPay, WeChatPayType

from tests.e2e.cloud.test_flow import (
    cloud_receiver,
    parties,
    test_callback_waits_for_its_function_to_be_registered,
    test_seed_001_unified_order_pay_and_callback_retried_until_errcode_0,
    test_seed_003_cloud_function_unified_order_query_close,
)
from tests.e2e.cloud.test_refund import (
    test_cloud_function_refund_camel_case_and_closed_refund,
    test_hosting_partial_refunds_query_callbacks_and_order_state,
    test_hosting_refusals,
)
from tests.e2e.miniprogram.test_getpaidunionid import (
    mp_merchant,
    test_every_error_code,
    test_getpaidunionid_by_both_lookups_until_five_minutes_pass,
    test_one_user_has_one_unionid_across_two_apps,
)
from tests.e2e.server.test_hostile_input import test_v2_refund_inputs
from tests.e2e.server.test_refund_concurrency import test_parallel_partial_refunds_never_exceed_the_paid_total
from tests.e2e.v2.test_flow import (
    make_v2,
    test_business_codes,
    test_partner_mode,
    test_payment_notification_md5_parsed_by_wechatpy,
    test_sandbox_switch,
    test_unifiedorder_pay_query_close,
)
from tests.e2e.v2.test_refund import (
    DELAY,
    test_abnormal_refund_and_v3_order,
    test_partial_refunds_query_and_notification,
    test_refund_rules,
)
from tests.support.common import FAST_NOTIFY
from tests.support.postgres import fresh_postgres_database

pytestmark = pytest.mark.postgres

__all__ = [
    "cloud_receiver",
    "make_v2",
    "mp_merchant",
    "parties",
    "test_abnormal_refund_and_v3_order",
    "test_business_codes",
    "test_callback_waits_for_its_function_to_be_registered",
    "test_cloud_function_refund_camel_case_and_closed_refund",
    "test_every_error_code",
    "test_getpaidunionid_by_both_lookups_until_five_minutes_pass",
    "test_hosting_partial_refunds_query_callbacks_and_order_state",
    "test_hosting_refusals",
    "test_one_user_has_one_unionid_across_two_apps",
    "test_parallel_partial_refunds_never_exceed_the_paid_total",
    "test_partial_refunds_query_and_notification",
    "test_partner_mode",
    "test_payment_notification_md5_parsed_by_wechatpy",
    "test_refund_rules",
    "test_sandbox_switch",
    "test_seed_001_unified_order_pay_and_callback_retried_until_errcode_0",
    "test_seed_003_cloud_function_unified_order_query_close",
    "test_unifiedorder_pay_query_close",
    "test_v2_refund_inputs",
]

OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"


@pytest.fixture(scope="module")
def emulator_env() -> dict[str, str]:
    # The refund modules' delay (both use 60 s of business clock before a refund succeeds).
    return {**FAST_NOTIFY, "WXPAY_EMULATOR_REFUND_DELAY_SECONDS": str(DELAY)}


@pytest.fixture(scope="module")
def database_name() -> Iterator[str]:
    with fresh_postgres_database("wxpay_e2e") as name:
        yield name


@pytest.fixture(scope="module")
def emulator_database_url(database_name: str) -> str:
    return f"postgresql://postgres@127.0.0.1:5432/{database_name}"


@pytest.fixture
def pg_rows(database_name: str) -> Any:
    """pg_rows(query, *params): rows read straight from the emulator's database."""
    import psycopg

    def fetch(query: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={database_name}") as conn:
            return conn.execute(query, params).fetchall()

    return fetch


@pytest.fixture(params=["pubkey", "cert"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def merchant(mode: str, merchants: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return merchants[mode]


@pytest.fixture
def wxpay(make_wxpay: Any, mode: str, receiver: Any) -> WeChatPay:
    client: WeChatPay = make_wxpay(mode, receiver.url)
    return client


def test_the_store_is_postgresql(emu: Any) -> None:
    health = emu.control("GET", "/health")
    assert health.status_code == 200 and health.json()["store"] == "postgresql", health.text


def test_flow_on_postgresql(
    merchant: dict[str, Any], wxpay: WeChatPay, emu: Any, receiver: Any, trade_no: Any, pg_rows: Any
) -> None:
    out_trade_no = trade_no("PG")
    args: dict[str, Any] = {
        "description": "PostgreSQL 商品",
        "out_trade_no": out_trade_no,
        "amount": {"total": 1999},
        "payer": {"openid": OPENID},
        "pay_type": WeChatPayType.JSAPI,
    }
    code, text = wxpay.pay(**args)
    assert code == 200, text
    prepay_id = json.loads(text)["prepay_id"]
    code, text = wxpay.pay(**args)
    assert code == 200 and json.loads(text)["prepay_id"] == prepay_id
    code, text = wxpay.pay(**{**args, "amount": {"total": 2000}})
    assert code == 403 and json.loads(text)["code"] == "OUT_TRADE_NO_USED"
    rows = pg_rows("SELECT state, total, prepay_id FROM orders WHERE out_trade_no = %s", out_trade_no)
    assert rows == [("NOTPAY", 1999, prepay_id)]

    paid = emu.pay(prepay_id=prepay_id)
    assert paid.status_code == 200, paid.text
    [notice] = receiver.wait_for(1)
    event = wxpay.callback(notice.headers, notice.body)
    assert event is not None and event["event_type"] == "TRANSACTION.SUCCESS"

    code, text = wxpay.query(out_trade_no=out_trade_no)
    assert code == 200
    queried = json.loads(text)
    assert queried["trade_state"] == "SUCCESS" and queried["payer"] == {"openid": OPENID}
    assert event["resource"] == queried == paid.json()
    code, text = wxpay.query(transaction_id=queried["transaction_id"])
    assert code == 200 and json.loads(text) == queried
    code, text = wxpay.pay(**args)
    assert code == 400 and json.loads(text)["code"] == "ORDERPAID"

    n = emu.wait_notification(event["id"], lambda n: n["status"] == "DELIVERED", "DELIVERED")
    assert n["attempts"] == 1
    stored = pg_rows("SELECT status, attempts FROM notifications WHERE id = %s", event["id"])
    assert stored == [("DELIVERED", 1)]


def test_close_on_postgresql(merchant: dict[str, Any], wxpay: WeChatPay, emu: Any, trade_no: Any) -> None:
    out_trade_no = trade_no("PGCLOSE")
    code, text = wxpay.pay(
        description="待关闭", out_trade_no=out_trade_no, amount={"total": 1}, pay_type=WeChatPayType.NATIVE
    )
    assert code == 200, text
    assert wxpay.close(out_trade_no=out_trade_no)[0] == 204
    code, text = wxpay.query(out_trade_no=out_trade_no)
    assert code == 200 and json.loads(text)["trade_state"] == "CLOSED"
    refused = emu.pay(mchid=merchant["mchid"], out_trade_no=out_trade_no)
    assert refused.status_code == 409 and refused.json()["code"] == "ORDER_CLOSED"


def test_retries_on_postgresql(
    merchant: dict[str, Any], wxpay: WeChatPay, emu: Any, receiver: Any, trade_no: Any
) -> None:
    receiver.answer(500, 500, then=200)
    out_trade_no = trade_no("PGRETRY")
    code, text = wxpay.pay(
        description="重试", out_trade_no=out_trade_no, amount={"total": 5}, pay_type=WeChatPayType.APP
    )
    assert code == 200, text
    assert emu.pay(mchid=merchant["mchid"], out_trade_no=out_trade_no).status_code == 200
    requests = receiver.wait_for(3)
    assert [r.answered for r in requests] == [500, 500, 200]
    [notification_id] = {json.loads(r.body)["id"] for r in requests}
    n = emu.wait_notification(notification_id, lambda n: n["status"] == "DELIVERED", "DELIVERED")
    assert [d["response_status"] for d in n["deliveries"]] == [500, 500, 200]


# Values PostgreSQL cannot store (beyond its int4 column orders.total; a NUL in text) must be refused at
# the edge as PARAM_ERROR, never reach the store and come back as a 500.
@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        pytest.param({"amount": {"total": 2**31}}, "amount.total", id="total-2**31"),
        pytest.param({"description": "零\u0000字节"}, "description", id="nul-description"),
        pytest.param({"attach": "a\u0000"}, "attach", id="nul-attach"),
        pytest.param({"goods_tag": "g\u0000"}, "goods_tag", id="nul-goods_tag"),
        pytest.param({"payer": {"openid": "o\u0000x"}}, "payer.openid", id="nul-payer-openid"),
    ],
)
def test_values_postgresql_cannot_store_are_param_errors(
    v3api: Any,
    merchants: dict[str, dict[str, Any]],
    emu: Any,
    trade_no: Any,
    overrides: dict[str, Any],
    field: str,
) -> None:
    api = v3api(merchants["pubkey"])
    out_trade_no = trade_no("PGODD")
    body = api.prepay_body(out_trade_no, "https://merchant.example/notify", **overrides)
    response = api.request("POST", "/v3/pay/transactions/jsapi", body)
    assert response.status_code == 400, response.text
    answer = response.json()
    assert answer["code"] == "PARAM_ERROR" and answer["detail"]["field"] == field, answer
    assert emu.orders_with(out_trade_no) == []


def test_largest_total_is_stored(
    v3api: Any, merchants: dict[str, dict[str, Any]], emu: Any, trade_no: Any
) -> None:
    api = v3api(merchants["pubkey"])
    out_trade_no = trade_no("PGMAX")
    body = api.prepay_body(out_trade_no, "https://merchant.example/notify", amount={"total": 2**31 - 1})
    response = api.request("POST", "/v3/pay/transactions/jsapi", body)
    assert response.status_code == 200, response.text
    assert emu.pay(mchid=api.merchant["mchid"], out_trade_no=out_trade_no).status_code == 200
    [order] = emu.orders_with(out_trade_no)
    assert order["transaction"]["amount"]["payer_total"] == 2**31 - 1


@pytest.mark.parametrize("action", ["query", "close", "control-pay"])
def test_nul_in_an_identifier_is_a_param_error(
    v3api: Any, merchants: dict[str, dict[str, Any]], emu: Any, action: str
) -> None:
    api = v3api(merchants["pubkey"])
    mchid = api.merchant["mchid"]
    if action == "query":
        response = api.request("GET", f"/v3/pay/transactions/out-trade-no/AB%00CDEF?mchid={mchid}")
    elif action == "close":
        response = api.request("POST", "/v3/pay/transactions/out-trade-no/AB%00CDEF/close", {"mchid": mchid})
    else:
        response = emu.pay(mchid=mchid, out_trade_no="AB\u0000CDEF")
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "PARAM_ERROR", response.text

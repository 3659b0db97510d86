"""The partner payment API (服务商, seed 002, api/v3/partner.py) in process: the relationship rules
between provider, sub-merchant and appids, every row of seed 002's error table that merchant input
produces, and the rows armed through ``POST /emulator/v1/faults``, all through hand-signed requests
(V3Api) whose answers' signatures are checked. Moved from tests/e2e/v3/partner/ (test_partner.py and
test_faults.py), which keep the flows through wechatpayv3 against the real server process."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.support.common import OPENID
from tests.support.emulator import Emu
from tests.support.inproc import InProcEmulator
from tests.support.partner import (
    BY_FAULT,
    BY_INPUT,
    MODES,
    NOTIFY_URL,
    PARTNER,
    SEED_002_ERRORS,
    MakeApi,
    Parties,
    Partner,
    arm,
    body_for,
    by_out_trade_no,
    by_transaction_id,
    close_path,
    make_parties,
    paid_order,
    pending,
    place,
    refused,
)
from tests.support.v3 import V3Api

# --- fixtures (those of tests/e2e/v3/partner/conftest.py, in process) -----------------------------------


@pytest.fixture(scope="module")
def parties(inproc: InProcEmulator, merchants: dict[str, dict[str, Any]]) -> Parties:
    return make_parties(inproc, merchants)


@pytest.fixture(autouse=True)
def no_faults(emu: Emu) -> Iterator[None]:
    """Every test starts and ends with no armed fault (the emulator's reset keeps them)."""
    assert emu.control("DELETE", "/faults").json() == {"pending": {}}
    yield
    emu.control("DELETE", "/faults")


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def partner(parties: Parties, mode: str) -> Partner:
    return parties.of(mode)


@pytest.fixture
def api(v3api: MakeApi, partner: Partner) -> V3Api:
    """Hand-signed requests from the provider of ``partner``."""
    return v3api(partner.provider)


@pytest.fixture
def pk(parties: Parties) -> Partner:
    """The public-key provider's party, for tests that need one mode only."""
    return parties.pubkey


@pytest.fixture
def pk_api(v3api: MakeApi, pk: Partner) -> V3Api:
    return v3api(pk.provider)


# --- the payer's outcomes and the relationships between provider, sub-merchant and appids ----------------


@pytest.mark.parametrize(
    ("result", "state", "desc"),
    [
        ("PAYERROR", "PAYERROR", "支付失败，请重新下单支付"),
        ("USERPAYING", "USERPAYING", "用户支付中，需要输入密码"),
        ("NOTENOUGH", "NOTPAY", "订单未支付"),
    ],
)
def test_payer_outcomes_other_than_success(
    result: str, state: str, desc: str, pk: Partner, pk_api: V3Api, emu: Emu, trade_no: Any
) -> None:
    out_trade_no = trade_no(result)
    prepay_id = place(pk_api, pk, out_trade_no)
    response = emu.pay(result, prepay_id=prepay_id)
    if result == "NOTENOUGH":
        assert response.status_code == 402 and response.json()["code"] == "NOT_ENOUGH", response.text
    else:
        assert response.status_code == 200 and response.json()["trade_state"] == state, response.text
    sp_mchid, sub_mchid = pk.provider["mchid"], pk.sub["mchid"]
    queried = pk_api.request("GET", by_out_trade_no(out_trade_no, sp_mchid, sub_mchid))
    assert queried.status_code == 200, queried.text
    pk_api.assert_signed(queried)
    assert (queried.json()["trade_state"], queried.json()["trade_state_desc"]) == (state, desc)
    assert "transaction_id" not in queried.json()
    closed = pk_api.request("POST", close_path(out_trade_no), {"sp_mchid": sp_mchid, "sub_mchid": sub_mchid})
    assert closed.status_code == 204, closed.text
    after = pk_api.request("GET", by_out_trade_no(out_trade_no, sp_mchid, sub_mchid)).json()
    assert after["trade_state"] == "CLOSED"
    assert emu.notifications() == []


def test_out_trade_no_is_unique_per_sub_merchant(
    parties: Parties, pk: Partner, pk_api: V3Api, emu: Emu, trade_no: Any
) -> None:
    """Two sub-merchants of one provider may use the same out_trade_no; each finds only its own."""
    out_trade_no = trade_no("TWIN")
    sibling = Partner(pk.provider, parties.sibling, parties.sibling["appid"])
    first = place(pk_api, pk, out_trade_no)
    second = place(pk_api, sibling, out_trade_no, amount={"total": 777, "currency": "CNY"})
    assert first != second
    mine = pk_api.request("GET", by_out_trade_no(out_trade_no, pk.provider["mchid"], pk.sub["mchid"]))
    theirs = pk_api.request(
        "GET", by_out_trade_no(out_trade_no, pk.provider["mchid"], parties.sibling["mchid"])
    )
    assert mine.json()["amount"]["total"] == 100 and theirs.json()["amount"]["total"] == 777


def test_paid_partner_order_cannot_be_closed_or_placed_again(
    pk: Partner, pk_api: V3Api, emu: Emu, trade_no: Any
) -> None:
    out_trade_no = trade_no("PAID")
    paid_order(pk_api, emu, pk, out_trade_no)
    close = {"sp_mchid": pk.provider["mchid"], "sub_mchid": pk.sub["mchid"]}
    response = pk_api.request("POST", close_path(out_trade_no), close)
    assert response.status_code == 400 and response.json()["code"] == "ORDERPAID", response.text
    again = pk_api.request("POST", f"{PARTNER}/jsapi", body_for(pk, out_trade_no))
    assert again.status_code == 400 and again.json()["code"] == "ORDERPAID", again.text
    twice = emu.pay(mchid=pk.sub["mchid"], out_trade_no=out_trade_no)
    assert twice.status_code == 409 and twice.json()["code"] == "ORDER_PAID"
    assert len(emu.notifications()) == 1


def test_control_plane_refuses_a_bad_provider(parties: Parties, emu: Emu) -> None:
    """A sub-merchant needs an existing provider, and a sub-merchant cannot be one."""
    unknown = emu.control("POST", "/merchants", json={"sp_mchid": "1999999998"})
    assert unknown.status_code == 404 and unknown.json()["code"] == "MCH_NOT_EXISTS", unknown.text
    nested = emu.control("POST", "/merchants", json={"sp_mchid": parties.pubkey.sub["mchid"]})
    assert nested.status_code == 400 and nested.json()["code"] == "PARAM_ERROR", nested.text
    listed = emu.control("GET", "/merchants").json()["data"]
    subs = {m["mchid"]: m["sp_mchid"] for m in listed if m["sp_mchid"]}
    assert subs[parties.pubkey.sub["mchid"]] == parties.pubkey.provider["mchid"]
    assert subs[parties.cert.sub["mchid"]] == parties.cert.provider["mchid"]
    assert len(subs) == 4  # pubkey's, cert's, the sibling, the stranger's


def test_sub_merchant_of_another_provider_is_no_auth(
    parties: Parties, partner: Partner, api: V3Api, emu: Emu, v3api: MakeApi, trade_no: Any
) -> None:
    """NO_AUTH (403) on create, both queries and close, even for an order that exists (the stranger's)."""
    stranger = parties.stranger
    stranger_api = v3api(stranger.provider)
    out_trade_no = trade_no("FOREIGN")
    transaction_id = paid_order(stranger_api, emu, stranger, out_trade_no)["transaction_id"]

    sp_mchid, foreign_sub = partner.provider["mchid"], stranger.sub["mchid"]
    create = api.request("POST", f"{PARTNER}/jsapi", body_for(partner, trade_no(), sub_mchid=foreign_sub))
    refused(api, create, "NO_AUTH", "sub_mchid")
    refused(api, api.request("GET", by_out_trade_no(out_trade_no, sp_mchid, foreign_sub)), "NO_AUTH")
    refused(api, api.request("GET", by_transaction_id(transaction_id, sp_mchid, foreign_sub)), "NO_AUTH")
    close = api.request("POST", close_path(out_trade_no), {"sp_mchid": sp_mchid, "sub_mchid": foreign_sub})
    refused(api, close, "NO_AUTH")

    # the provider is not its own sub-merchant
    as_sub = api.request("POST", f"{PARTNER}/app", body_for(partner, trade_no(), "app", sub_mchid=sp_mchid))
    refused(api, as_sub, "NO_AUTH")
    # and a sub-merchant is nobody's provider: signing as sp_mchid for another sub-merchant is NO_AUTH
    sub_api = v3api(partner.sub)
    own = {
        "sp_appid": partner.sub["appid"],
        "sp_mchid": partner.sub["mchid"],
        "sub_mchid": parties.sibling["mchid"],
    }
    refused(
        sub_api,
        sub_api.request("POST", f"{PARTNER}/app", body_for(partner, trade_no(), "app", **own)),
        "NO_AUTH",
    )
    # the stranger's order is untouched
    [order] = emu.orders_with(out_trade_no)
    assert order["transaction"]["trade_state"] == "SUCCESS"
    assert [o["transaction"]["out_trade_no"] for o in emu.orders()] == [out_trade_no]


def test_unknown_sub_mchid_is_mch_not_exists(partner: Partner, api: V3Api, trade_no: Any) -> None:
    sp_mchid, unknown = partner.provider["mchid"], "1999999999"
    out_trade_no = trade_no("NOMCH")
    create = api.request(
        "POST", f"{PARTNER}/native", body_for(partner, out_trade_no, "native", sub_mchid=unknown)
    )
    refused(api, create, "MCH_NOT_EXISTS", "sub_mchid")
    refused(api, api.request("GET", by_out_trade_no(out_trade_no, sp_mchid, unknown)), "MCH_NOT_EXISTS")
    transaction_id = "4200000000202601010000000000"
    refused(api, api.request("GET", by_transaction_id(transaction_id, sp_mchid, unknown)), "MCH_NOT_EXISTS")
    close = api.request("POST", close_path(out_trade_no), {"sp_mchid": sp_mchid, "sub_mchid": unknown})
    refused(api, close, "MCH_NOT_EXISTS")


def test_a_query_names_the_sub_mchid_where_it_was_sent(
    parties: Parties, partner: Partner, api: V3Api, trade_no: Any
) -> None:
    """Seed 002: a query's sub_mchid is a query parameter ("query 二级商户的商户号"), so a refusal of it
    points there (location "query", as the PARAM_ERROR of a missing one does), not at a body; a
    create's sub_mchid is in the body."""
    sp_mchid, out_trade_no = partner.provider["mchid"], trade_no("WHERE")
    for sub_mchid, code in (("1999999999", "MCH_NOT_EXISTS"), (parties.stranger.sub["mchid"], "NO_AUTH")):
        for path in (
            by_out_trade_no(out_trade_no, sp_mchid, sub_mchid),
            by_transaction_id("4200000000202601010000000000", sp_mchid, sub_mchid),
        ):
            body = refused(api, api.request("GET", path), code, "sub_mchid")
            assert body["detail"]["location"] == "query", body
            assert body["detail"]["value"] == sub_mchid, body
        create = api.request("POST", f"{PARTNER}/jsapi", body_for(partner, out_trade_no, sub_mchid=sub_mchid))
        assert refused(api, create, code, "sub_mchid")["detail"]["location"] == "body"
        # the refund routes alike: a query's sub_mchid is in its query, a create's in its body
        query = api.request("GET", f"/v3/refund/domestic/refunds/RWHERE0001?sub_mchid={sub_mchid}")
        assert refused(api, query, code, "sub_mchid")["detail"]["location"] == "query"
        refund = {
            "sub_mchid": sub_mchid,
            "out_trade_no": out_trade_no,
            "out_refund_no": "RWHERE0001",
            "amount": {"refund": 1, "total": 1, "currency": "CNY"},
        }
        create = api.request("POST", "/v3/refund/domestic/refunds", refund)
        assert refused(api, create, code, "sub_mchid")["detail"]["location"] == "body"


@pytest.mark.parametrize("which", ["unknown", "the-sub-merchants-own", "another-providers"])
def test_sp_appid_not_bound_to_the_provider(
    which: str, parties: Parties, partner: Partner, api: V3Api, emu: Emu, trade_no: Any
) -> None:
    sp_appid = {
        "unknown": "wx" + secrets.token_hex(8),
        "the-sub-merchants-own": partner.sub["appid"],
        "another-providers": parties.stranger.provider["appid"],
    }[which]
    response = api.request("POST", f"{PARTNER}/app", body_for(partner, trade_no(), "app", sp_appid=sp_appid))
    body = refused(api, response, "APPID_MCHID_NOT_MATCH", "sp_appid")
    assert body["detail"]["value"] == sp_appid
    assert emu.orders() == []


@pytest.mark.parametrize("which", ["unknown", "the-providers", "a-sibling-sub-merchants"])
def test_sub_appid_not_bound_to_the_sub_merchant(
    which: str, parties: Parties, partner: Partner, api: V3Api, emu: Emu, trade_no: Any
) -> None:
    sub_appid = {
        "unknown": "wx" + secrets.token_hex(8),
        "the-providers": partner.provider["appid"],
        "a-sibling-sub-merchants": parties.sibling["appid"],
    }[which]
    body = body_for(partner, trade_no(), sub_appid=sub_appid, payer={"sub_openid": OPENID})
    answer = refused(api, api.request("POST", f"{PARTNER}/jsapi", body), "APPID_MCHID_NOT_MATCH", "sub_appid")
    assert answer["detail"]["value"] == sub_appid
    assert emu.orders() == []


def test_direct_order_is_not_found_through_the_partner_api(
    pk: Partner, pk_api: V3Api, emu: Emu, v3api: MakeApi, trade_no: Any
) -> None:
    """The sub-merchant's own direct order (it signs /v3/pay/transactions itself) is not a partner order."""
    sub_api = v3api(pk.sub)
    out_trade_no = trade_no("DIRECT")
    placed = sub_api.request(
        "POST", "/v3/pay/transactions/jsapi", sub_api.prepay_body(out_trade_no, NOTIFY_URL)
    )
    assert placed.status_code == 200, placed.text
    paid = emu.pay(prepay_id=placed.json()["prepay_id"])
    assert paid.status_code == 200, paid.text
    transaction_id = paid.json()["transaction_id"]
    direct = sub_api.request(
        "GET", f"/v3/pay/transactions/out-trade-no/{out_trade_no}?mchid={pk.sub['mchid']}"
    )
    assert direct.status_code == 200 and direct.json()["mchid"] == pk.sub["mchid"]

    sp_mchid, sub_mchid = pk.provider["mchid"], pk.sub["mchid"]
    refused(
        pk_api, pk_api.request("GET", by_out_trade_no(out_trade_no, sp_mchid, sub_mchid)), "ORDER_NOT_EXIST"
    )
    refused(
        pk_api,
        pk_api.request("GET", by_transaction_id(transaction_id, sp_mchid, sub_mchid)),
        "ORDER_NOT_EXIST",
    )
    close = pk_api.request("POST", close_path(out_trade_no), {"sp_mchid": sp_mchid, "sub_mchid": sub_mchid})
    refused(pk_api, close, "ORDER_NOT_EXIST")

    # out_trade_no is unique per merchant across both APIs: the provider cannot reuse an unpaid direct
    # order's number for a partner order of the same sub-merchant
    unpaid = trade_no("DIRECT")
    direct_body = sub_api.prepay_body(unpaid, NOTIFY_URL)
    assert sub_api.request("POST", "/v3/pay/transactions/jsapi", direct_body).status_code == 200
    reused = pk_api.request("POST", f"{PARTNER}/jsapi", body_for(pk, unpaid))
    refused(pk_api, reused, "OUT_TRADE_NO_USED")


def test_partner_order_is_not_found_through_the_direct_api(
    pk: Partner, pk_api: V3Api, emu: Emu, v3api: MakeApi, trade_no: Any
) -> None:
    """Neither the sub-merchant nor the provider sees a partner order through /v3/pay/transactions."""
    out_trade_no = trade_no("PARTNER")
    transaction_id = paid_order(pk_api, emu, pk, out_trade_no)["transaction_id"]
    for signer in (pk.sub, pk.provider):
        direct = v3api(signer)
        mchid = signer["mchid"]
        by_out = direct.request("GET", f"/v3/pay/transactions/out-trade-no/{out_trade_no}?mchid={mchid}")
        refused(direct, by_out, "ORDER_NOT_EXIST")
        by_id = direct.request("GET", f"/v3/pay/transactions/id/{transaction_id}?mchid={mchid}")
        refused(direct, by_id, "ORDER_NOT_EXIST")
        close = direct.request(
            "POST", f"/v3/pay/transactions/out-trade-no/{out_trade_no}/close", {"mchid": mchid}
        )
        refused(direct, close, "ORDER_NOT_EXIST")
    sp_mchid, sub_mchid = pk.provider["mchid"], pk.sub["mchid"]
    still = pk_api.request("GET", by_out_trade_no(out_trade_no, sp_mchid, sub_mchid))
    assert still.status_code == 200 and still.json()["trade_state"] == "SUCCESS"


def test_order_of_a_sibling_sub_merchant_is_not_found(
    parties: Parties, pk: Partner, pk_api: V3Api, emu: Emu, trade_no: Any
) -> None:
    out_trade_no = trade_no("SIBLING")
    transaction_id = paid_order(pk_api, emu, pk, out_trade_no)["transaction_id"]
    sp_mchid, sibling = pk.provider["mchid"], parties.sibling["mchid"]
    refused(
        pk_api, pk_api.request("GET", by_out_trade_no(out_trade_no, sp_mchid, sibling)), "ORDER_NOT_EXIST"
    )
    refused(
        pk_api, pk_api.request("GET", by_transaction_id(transaction_id, sp_mchid, sibling)), "ORDER_NOT_EXIST"
    )
    close = pk_api.request("POST", close_path(out_trade_no), {"sp_mchid": sp_mchid, "sub_mchid": sibling})
    refused(pk_api, close, "ORDER_NOT_EXIST")


# --- seed 002's error table: the rows merchant input produces ------------------------------------------


def test_sign_error(partner: Partner, api: V3Api, emu: Emu, trade_no: Any) -> None:
    """SIGN_ERROR (401): a body changed after signing, a query signed for another query string."""
    body = body_for(partner, trade_no())
    tampered = json.dumps({**body, "amount": {"total": 1, "currency": "CNY"}}).encode()
    refused(api, api.request("POST", f"{PARTNER}/jsapi", body, sent_body=tampered), "SIGN_ERROR")

    sp_mchid, sub_mchid = partner.provider["mchid"], partner.sub["mchid"]
    signed_for = by_out_trade_no("SIGNED_FOR", sp_mchid, sub_mchid)
    sent_to = by_out_trade_no("SENT_TO_X", sp_mchid, sub_mchid)
    headers = {"Authorization": api.authorization("GET", signed_for, b"")}
    response = api.http.get(emu.url + sent_to, headers=headers)
    refused(api, response, "SIGN_ERROR")
    assert emu.orders() == []


# (id, method, path template, body, detail.field); {sp} {sub} {otn} are filled in
PARAM_CASES: list[tuple[str, str, str, Any, str]] = [
    ("prepay-without-sub_mchid", "POST", "/jsapi", {"sub_mchid": None}, "sub_mchid"),
    ("prepay-without-sp_appid", "POST", "/app", {"sp_appid": None}, "sp_appid"),
    ("prepay-without-description", "POST", "/native", {"description": None}, "description"),
    ("jsapi-without-payer", "POST", "/jsapi", {"payer": None}, "payer.sp_openid"),
    ("jsapi-with-empty-payer", "POST", "/jsapi", {"payer": {}}, "payer.sp_openid"),
    ("sub_openid-without-sub_appid", "POST", "/jsapi", {"payer": {"sub_openid": OPENID}}, "sub_appid"),
    (
        "h5-without-h5_info",
        "POST",
        "/h5",
        {"scene_info": {"payer_client_ip": "127.0.0.1"}},
        "scene_info.h5_info",
    ),
    ("out_trade_no-too-short", "POST", "/app", {"out_trade_no": "A2345"}, "out_trade_no"),
    ("sub_mchid-too-long", "POST", "/app", {"sub_mchid": "1" * 33}, "sub_mchid"),
    ("query-without-sub_mchid", "GET", "/out-trade-no/{otn}?sp_mchid={sp}", None, "sub_mchid"),
    ("query-without-sp_mchid", "GET", "/out-trade-no/{otn}?sub_mchid={sub}", None, "sp_mchid"),
    (
        "query-by-id-without-sub_mchid",
        "GET",
        "/id/4200000000202601010000000000?sp_mchid={sp}",
        None,
        "sub_mchid",
    ),
    (
        "query-bad-out_trade_no",
        "GET",
        "/out-trade-no/A2345?sp_mchid={sp}&sub_mchid={sub}",
        None,
        "out_trade_no",
    ),
    ("close-without-sub_mchid", "POST", "/out-trade-no/{otn}/close", {"sp_mchid": "{sp}"}, "sub_mchid"),
    (
        "close-bad-out_trade_no",
        "POST",
        "/out-trade-no/A2345/close",
        {"sp_mchid": "{sp}", "sub_mchid": "{sub}"},
        "out_trade_no",
    ),
]


@pytest.mark.parametrize(
    ("method", "template", "change", "field"), [c[1:] for c in PARAM_CASES], ids=[c[0] for c in PARAM_CASES]
)
def test_param_error(
    method: str, template: str, change: Any, field: str, partner: Partner, api: V3Api, emu: Emu, trade_no: Any
) -> None:
    values = {"sp": partner.provider["mchid"], "sub": partner.sub["mchid"], "otn": trade_no()}
    path = PARTNER + template.format(**values)
    body: dict[str, Any] | None = None
    if method == "POST" and template.endswith("/close"):
        body = {k: v.format(**values) for k, v in change.items()}
    elif method == "POST":
        body = body_for(partner, values["otn"], template.strip("/"), **change)
    refused(api, api.request(method, path, body), "PARAM_ERROR", field)
    assert emu.orders() == []


def test_out_trade_no_used(pk: Partner, pk_api: V3Api, emu: Emu, trade_no: Any) -> None:
    """OUT_TRADE_NO_USED (403): the same out_trade_no of the same sub-merchant with another total."""
    out_trade_no = trade_no("USED")
    prepay_id = place(pk_api, pk, out_trade_no)
    changed = body_for(pk, out_trade_no, amount={"total": 200, "currency": "CNY"})
    refused(pk_api, pk_api.request("POST", f"{PARTNER}/jsapi", changed), "OUT_TRADE_NO_USED")
    # another trade type under the same out_trade_no is another order too
    native = body_for(pk, out_trade_no, "native")
    refused(pk_api, pk_api.request("POST", f"{PARTNER}/native", native), "OUT_TRADE_NO_USED")
    assert place(pk_api, pk, out_trade_no) == prepay_id


def test_order_not_exist(partner: Partner, api: V3Api, trade_no: Any) -> None:
    sp_mchid, sub_mchid = partner.provider["mchid"], partner.sub["mchid"]
    out_trade_no = trade_no("NOSUCH")
    refused(api, api.request("GET", by_out_trade_no(out_trade_no, sp_mchid, sub_mchid)), "ORDER_NOT_EXIST")
    by_id = by_transaction_id("4200000000202601010000000000", sp_mchid, sub_mchid)
    refused(api, api.request("GET", by_id), "ORDER_NOT_EXIST")
    close = api.request("POST", close_path(out_trade_no), {"sp_mchid": sp_mchid, "sub_mchid": sub_mchid})
    refused(api, close, "ORDER_NOT_EXIST")


def test_order_closed(pk: Partner, pk_api: V3Api, emu: Emu, trade_no: Any) -> None:
    """ORDER_CLOSED (400): placing a closed order again (the SDK test above does it too)."""
    out_trade_no = trade_no("CLOSED")
    place(pk_api, pk, out_trade_no, "app")
    close = {"sp_mchid": pk.provider["mchid"], "sub_mchid": pk.sub["mchid"]}
    response = pk_api.request("POST", close_path(out_trade_no), close)
    assert response.status_code == 204 and response.content == b""
    pk_api.assert_signed(response)
    again = pk_api.request("POST", f"{PARTNER}/app", body_for(pk, out_trade_no, "app"))
    refused(pk_api, again, "ORDER_CLOSED")


@pytest.mark.parametrize("transaction_id", ["abc", "42000000002026010100000000x0", "4200-0000", "1" * 33])
def test_invalid_transaction_id(transaction_id: str, partner: Partner, api: V3Api) -> None:
    """INVALID_TRANSACTIONID (500): not 1-32 digits."""
    path = by_transaction_id(transaction_id, partner.provider["mchid"], partner.sub["mchid"])
    refused(api, api.request("GET", path), "INVALID_TRANSACTIONID")


@pytest.mark.parametrize("transaction_id", ["４２００００００００", "²³", "٤٢٠٠"])
def test_non_ascii_digits_are_an_invalid_transaction_id(
    transaction_id: str, pk: Partner, pk_api: V3Api
) -> None:
    # signed as sent: percent-encoded UTF-8 (DESIGN.md §2, the path exactly as on the wire)
    path = by_transaction_id(quote(transaction_id), pk.provider["mchid"], pk.sub["mchid"])
    refused(pk_api, pk_api.request("GET", path), "INVALID_TRANSACTIONID")


def test_invalid_request_when_sp_mchid_is_not_the_signer(
    parties: Parties, partner: Partner, api: V3Api, emu: Emu, trade_no: Any
) -> None:
    """INVALID_REQUEST (400): the body's or the query's sp_mchid differs from the Authorization's mchid."""
    other = parties.stranger.provider["mchid"]
    sub_mchid = partner.sub["mchid"]
    out_trade_no = trade_no("OTHERSP")
    create = api.request("POST", f"{PARTNER}/jsapi", body_for(partner, out_trade_no, sp_mchid=other))
    refused(api, create, "INVALID_REQUEST")
    refused(api, api.request("GET", by_out_trade_no(out_trade_no, other, sub_mchid)), "INVALID_REQUEST")
    by_id = by_transaction_id("4200000000202601010000000000", other, sub_mchid)
    refused(api, api.request("GET", by_id), "INVALID_REQUEST")
    close = api.request("POST", close_path(out_trade_no), {"sp_mchid": other, "sub_mchid": sub_mchid})
    refused(api, close, "INVALID_REQUEST")
    # and an empty body where one is needed
    refused(api, api.request("POST", f"{PARTNER}/native", b""), "INVALID_REQUEST")
    assert emu.orders() == []


# --- seed 002's error table: the rows armed through the faults control ---------------------------------


def test_the_seed_table_is_split_between_inputs_and_faults() -> None:
    assert set(SEED_002_ERRORS) >= BY_INPUT
    assert set(SEED_002_ERRORS) == set(BY_FAULT) | BY_INPUT
    expected = ["USERPAYING", "TRADE_ERROR", "SYSTEM_ERROR", "RULE_LIMIT", "OPENID_MISMATCH", "NOT_ENOUGH"]
    expected += ["FREQUENCY_LIMITED", "BANK_ERROR", "ACCOUNT_ERROR"]
    assert sorted(expected) == BY_FAULT


FAULT_OPERATIONS = ["partner.prepay", "partner.query", "partner.close"]


def call_operation(api: V3Api, p: Partner, operation: str, out_trade_no: str) -> httpx.Response:
    """One call of a partner operation that succeeds when no fault is armed (given a placed order)."""
    sp_mchid, sub_mchid = p.provider["mchid"], p.sub["mchid"]
    response: httpx.Response
    if operation == "partner.prepay":
        response = api.request("POST", f"{PARTNER}/jsapi", body_for(p, out_trade_no))
    elif operation == "partner.query":
        response = api.request("GET", by_out_trade_no(out_trade_no, sp_mchid, sub_mchid))
    else:
        assert operation == "partner.close"
        response = api.request(
            "POST", close_path(out_trade_no), {"sp_mchid": sp_mchid, "sub_mchid": sub_mchid}
        )
    return response


@pytest.mark.parametrize("code", BY_FAULT)
@pytest.mark.parametrize("operation", FAULT_OPERATIONS)
def test_fault_answers_the_seeds_status_signed(
    code: str, operation: str, pk: Partner, pk_api: V3Api, emu: Emu, trade_no: Any
) -> None:
    out_trade_no = trade_no("FAULT")
    place(pk_api, pk, out_trade_no)  # a real order, so that without the fault every call succeeds
    arm(emu, operation, code)
    assert pending(emu) == {operation: [code]}

    body = refused(pk_api, call_operation(pk_api, pk, operation, out_trade_no), code)
    assert set(body) <= {"code", "message", "detail"}
    assert pending(emu) == {}
    answer = call_operation(pk_api, pk, operation, out_trade_no)
    assert answer.status_code in (200, 204), answer.text
    pk_api.assert_signed(answer)


def test_fault_is_consumed_after_n_calls(pk: Partner, pk_api: V3Api, emu: Emu, trade_no: Any) -> None:
    out_trade_no = trade_no("COUNT")
    place(pk_api, pk, out_trade_no)
    arm(emu, "partner.query", "SYSTEM_ERROR", count=3)
    arm(emu, "partner.query", "BANK_ERROR")  # queued after the three
    assert pending(emu) == {"partner.query": ["SYSTEM_ERROR"] * 3 + ["BANK_ERROR"]}

    path = by_out_trade_no(out_trade_no, pk.provider["mchid"], pk.sub["mchid"])
    for left in (3, 2, 1):
        assert pending(emu)["partner.query"].count("SYSTEM_ERROR") == left
        refused(pk_api, pk_api.request("GET", path), "SYSTEM_ERROR")
    # the query by transaction_id is the same operation
    by_id = by_transaction_id("4200000000202601010000000000", pk.provider["mchid"], pk.sub["mchid"])
    refused(pk_api, pk_api.request("GET", by_id), "BANK_ERROR")
    assert pending(emu) == {}
    for _ in range(2):
        answer = pk_api.request("GET", path)
        assert answer.status_code == 200 and answer.json()["trade_state"] == "NOTPAY"


def test_fault_with_a_custom_message(pk: Partner, pk_api: V3Api, emu: Emu, trade_no: Any) -> None:
    fault = {"operation": "partner.prepay", "code": "NOT_ENOUGH", "count": 1, "message": "余额不足 (e2e)"}
    assert emu.control("POST", "/faults", json=fault).status_code == 201
    body = refused(pk_api, pk_api.request("POST", f"{PARTNER}/jsapi", body_for(pk, trade_no())), "NOT_ENOUGH")
    assert body["message"] == "余额不足 (e2e)"


def test_fault_is_taken_only_after_authentication(
    pk: Partner, pk_api: V3Api, emu: Emu, trade_no: Any
) -> None:
    arm(emu, "partner.prepay", "FREQUENCY_LIMITED")
    body = body_for(pk, trade_no())
    tampered = json.dumps({**body, "description": "changed"}).encode()
    refused(pk_api, pk_api.request("POST", f"{PARTNER}/jsapi", body, sent_body=tampered), "SIGN_ERROR")
    assert pending(emu) == {"partner.prepay": ["FREQUENCY_LIMITED"]}
    refused(pk_api, pk_api.request("POST", f"{PARTNER}/jsapi", body), "FREQUENCY_LIMITED")
    assert place(pk_api, pk, body["out_trade_no"]).startswith("wx")


def test_fault_of_one_operation_leaves_the_others_alone(
    pk: Partner, pk_api: V3Api, emu: Emu, trade_no: Any
) -> None:
    arm(emu, "pay.query", "SYSTEM_ERROR")
    arm(emu, "partner.close", "ACCOUNT_ERROR")
    out_trade_no = trade_no("ALONE")
    place(pk_api, pk, out_trade_no)  # partner.prepay
    query = call_operation(pk_api, pk, "partner.query", out_trade_no)
    assert query.status_code == 200, query.text
    assert pending(emu) == {"pay.query": ["SYSTEM_ERROR"], "partner.close": ["ACCOUNT_ERROR"]}
    refused(pk_api, call_operation(pk_api, pk, "partner.close", out_trade_no), "ACCOUNT_ERROR")
    assert pending(emu) == {"pay.query": ["SYSTEM_ERROR"]}


def test_delete_clears_every_fault(pk: Partner, pk_api: V3Api, emu: Emu, trade_no: Any) -> None:
    arm(emu, "partner.prepay", "RULE_LIMIT", count=5)
    arm(emu, "partner.query", "TRADE_ERROR", count=5)
    cleared = emu.control("DELETE", "/faults")
    assert cleared.status_code == 200 and cleared.json() == {"pending": {}}
    out_trade_no = trade_no("CLEARED")
    place(pk_api, pk, out_trade_no)
    assert call_operation(pk_api, pk, "partner.query", out_trade_no).status_code == 200


@pytest.mark.parametrize(
    "fault",
    [
        {"operation": "partner.refund", "code": "SYSTEM_ERROR"},
        {"operation": "PARTNER.PREPAY", "code": "SYSTEM_ERROR"},
        {"operation": "", "code": "SYSTEM_ERROR"},
        {"operation": "partner.prepay", "code": "NO_SUCH_CODE"},
        {"operation": "partner.prepay", "code": "system_error"},
        {"operation": "partner.prepay", "code": ""},
        {"operation": "partner.prepay", "code": "SYSTEM_ERROR", "count": 0},
        {"operation": "partner.prepay", "code": "SYSTEM_ERROR", "count": -1},
        {"operation": "partner.prepay", "code": "SYSTEM_ERROR", "count": 1001},
        {"operation": "partner.prepay", "code": "SYSTEM_ERROR", "sub_mchid": "1900000109"},
        {"operation": "partner.prepay"},
        {"code": "SYSTEM_ERROR"},
    ],
    ids=lambda f: "-".join(f"{k}={v}" for k, v in f.items()) or "empty",
)
def test_faults_refuse_an_unknown_operation_or_code(
    fault: dict[str, Any], pk: Partner, pk_api: V3Api, emu: Emu, trade_no: Any
) -> None:
    response = emu.control("POST", "/faults", json=fault)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "PARAM_ERROR"
    assert pending(emu) == {}
    assert place(pk_api, pk, trade_no()).startswith("wx")


@pytest.mark.parametrize("code", BY_FAULT)
def test_fault_in_certificate_mode_is_signed_with_the_platform_certificate(
    code: str, parties: Parties, emu: Emu, v3api: MakeApi, trade_no: Any
) -> None:
    """The provider in platform-certificate mode: the hand-signed call checks the platform certificate's
    signature on every code (tests/e2e/v3/partner/test_faults.py sends the same through wechatpayv3)."""
    p = parties.cert
    arm(emu, "partner.prepay", code)
    api = v3api(p.provider)
    refused(api, api.request("POST", f"{PARTNER}/app", body_for(p, trade_no(), "app")), code)
    assert emu.orders() == [] and pending(emu) == {}

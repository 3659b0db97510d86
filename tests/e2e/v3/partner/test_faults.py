"""Seed 002's error-table rows that come from WeChat's side, armed through ``POST /emulator/v1/faults``
and answered on the partner API (moved here from the partner flow tests)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.support.emulator import Emu
from tests.support.partner import (
    BY_FAULT,
    BY_INPUT,
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
    partner_wxpay,
    pending,
    place,
    refused,
    sdk_place,
)
from tests.support.receiver import Receiver
from tests.support.v3 import V3Api


def test_the_seed_table_is_split_between_inputs_and_faults() -> None:
    assert set(SEED_002_ERRORS) >= BY_INPUT
    assert set(SEED_002_ERRORS) == set(BY_FAULT) | BY_INPUT
    expected = ["USERPAYING", "TRADE_ERROR", "SYSTEM_ERROR", "RULE_LIMIT", "OPENID_MISMATCH", "NOT_ENOUGH"]
    expected += ["FREQUENCY_LIMITED", "BANK_ERROR", "ACCOUNT_ERROR"]
    assert sorted(expected) == BY_FAULT


# --- seed 002's error table: the rows armed through the faults control ---------------------------------

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


@pytest.mark.parametrize("code", BY_FAULT)
def test_fault_in_certificate_mode_through_wechatpayv3(
    code: str, parties: Parties, emu: Emu, receiver: Receiver, v3api: MakeApi, trade_no: Any
) -> None:
    """The provider in platform-certificate mode: wechatpayv3 gets the seed's status and code (and verifies
    the signature of the 2xx one, USERPAYING); the hand-signed call checks the platform certificate's
    signature on every code."""
    p = parties.cert
    wxpay = partner_wxpay(emu.url, p.provider, receiver.url)
    arm(emu, "partner.prepay", code, count=2)
    status, body = sdk_place(wxpay, p, "APP", trade_no("FAULT"))
    assert (status, body["code"]) == (SEED_002_ERRORS[code], code)
    api = v3api(p.provider)
    refused(api, api.request("POST", f"{PARTNER}/app", body_for(p, trade_no(), "app")), code)
    assert emu.orders() == [] and pending(emu) == {}


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

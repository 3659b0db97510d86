"""A cloud failure's head (seeds 001 / 003, in process): with return_code SUCCESS, seed 001's table gives
``sub_mch_id`` as required (子商户号 | sub_mch_id | 是 | String(32)), so a failure echoes the request's
``sub_mch_id`` whenever the request named a well-formed one, whichever other field was refused; a
missing or malformed one cannot be echoed and is left out."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.cloud.test_flow import SEED_001, SEED_003, function, hosting
from tests.support.cloud import PROVIDER, Parties, make_parties
from tests.support.common import new_trade_no
from tests.support.emulator import Emu
from tests.support.inproc import InProcEmulator
from tests.support.v2 import v2_md5

HEAD = ("return_code", "return_msg", "appid", "mch_id", "sub_appid", "sub_mch_id", "nonce_str", "sign")


@pytest.fixture(scope="module")
def parties(inproc: InProcEmulator) -> Parties:
    return make_parties(Emu(inproc, inproc.http))  # type: ignore[arg-type]  # Emu reads only ``url``


# (change to seed 001's example, the err_code it answers)
HOSTING_REFUSALS = [
    ({"callback_type": 3}, "INVALID_REQUEST"),
    ({"env_id": None}, "LACK_PARAMS"),
    ({"body": None}, "LACK_PARAMS"),
    ({"body": "b" * 129}, "INVALID_REQUEST"),
    ({"nonce_str": "n" * 33}, "INVALID_REQUEST"),
    ({"total_fee": 0}, "INVALID_REQUEST"),
    ({"total_fee": "1"}, "INVALID_REQUEST"),
    ({"out_trade_no": "x" * 33}, "INVALID_REQUEST"),
    ({"container": {"service": "pay"}}, "LACK_PARAMS"),
    ({"trade_type": "NATIVE"}, "INVALID_REQUEST"),
]


@pytest.mark.parametrize(("change", "err_code"), HOSTING_REFUSALS)
def test_hosting_failure_echoes_a_well_formed_sub_mch_id(
    emu: Emu, parties: Parties, change: dict[str, Any], err_code: str
) -> None:
    body = {**SEED_001, "sub_mch_id": parties.sub, "out_trade_no": new_trade_no("HEAD")}
    body = {k: v for k, v in {**body, **change}.items() if v is not None}
    data = hosting(emu, "unifiedorder", body).json()["respdata"]
    assert (data["result_code"], data["err_code"]) == ("FAIL", err_code), data
    assert all(name in data for name in HEAD), data
    assert data["sub_mch_id"] == parties.sub and data["mch_id"] == PROVIDER, data
    assert data["sign"] == v2_md5(data, parties.provider_key), data


@pytest.mark.parametrize(
    ("change", "err_code"), [({"body": None}, "LACK_PARAMS"), ({"totalFee": 0}, "INVALID_REQUEST")]
)
def test_function_failure_echoes_a_well_formed_sub_mch_id(
    emu: Emu, parties: Parties, change: dict[str, Any], err_code: str
) -> None:
    body = {**SEED_003, "subMchId": parties.sub, "outTradeNo": new_trade_no("HEAD")}
    body = {k: v for k, v in {**body, **change}.items() if v is not None}
    answer = function(emu, "unifiedOrder", body).json()
    assert (answer["resultCode"], answer["errCode"]) == ("FAIL", err_code), answer
    assert answer["subMchId"] == parties.sub, answer


def test_query_failure_echoes_a_well_formed_sub_mch_id(emu: Emu, parties: Parties) -> None:
    data = hosting(emu, "queryorder", {"sub_mch_id": parties.sub}).json()["respdata"]
    assert (data["err_code"], data["sub_mch_id"]) == ("LACK_PARAMS", parties.sub), data


@pytest.mark.parametrize("sub_mch_id", [None, "1" * 33, 1712734762, "", "17127\u0000"])
def test_a_missing_or_malformed_sub_mch_id_is_not_echoed(emu: Emu, parties: Parties, sub_mch_id: Any) -> None:
    body = {**SEED_001, "out_trade_no": new_trade_no("HEAD"), "sub_mch_id": sub_mch_id}
    body = {k: v for k, v in body.items() if v is not None}
    data = hosting(emu, "unifiedorder", body).json()["respdata"]
    assert data["result_code"] == "FAIL" and "sub_mch_id" not in data, data


@pytest.mark.parametrize(
    ("operation", "send"),
    [
        (
            "cloud.unifiedorder",
            lambda emu, sub: hosting(emu, "unifiedorder", {**SEED_001, "sub_mch_id": sub}),
        ),
        (
            "cloudpay.queryOrder",
            lambda emu, sub: function(emu, "queryOrder", {"subMchId": sub, "outTradeNo": "Q1"}),
        ),
        ("cloud.refund", lambda emu, sub: hosting(emu, "refund", {"sub_mch_id": sub})),
    ],
)
def test_an_armed_fault_echoes_the_requests_sub_mch_id(
    emu: Emu, parties: Parties, operation: str, send: Any
) -> None:
    # The fault answers before the body is parsed; its head is still seed 001's, sub_mch_id included.
    armed = emu.control("POST", "/faults", json={"operation": operation, "code": "SYSTEMERROR"})
    assert armed.status_code == 201, armed.text
    answer = send(emu, parties.sub).json()
    data = answer.get("respdata", answer)
    code = data.get("err_code", data.get("errCode"))
    assert code == "SYSTEMERROR" and parties.sub in (data.get("sub_mch_id"), data.get("subMchId")), answer
    if "respdata" in answer:
        assert data["sign"] == v2_md5(data, parties.provider_key), data

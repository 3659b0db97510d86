"""Inputs a review found to break the new families (each was a 500, a hot loop, a lost refund or a wrong
SIGNERROR before its fix): every one now gets the family's own answer. In process; moved from
tests/e2e/server/test_hostile_input.py, which keeps the v2 refund inputs (rerun on PostgreSQL by
tests/e2e/server/test_families_postgres.py) and the callback retried by the real dispatcher."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.cloud.test_flow import SEED_001, SEED_003, function, hosting
from tests.e2e.v2.test_flow import APPID, parse, signed_body
from tests.support.cloud import Parties, make_parties
from tests.support.common import DEFAULT_MCHID, new_trade_no
from tests.support.emulator import Emu
from tests.support.inproc import InProcEmulator
from tests.support.v2 import order_fields

DEEP_JSON = b"[" * 100_000 + b"]" * 100_000


@pytest.fixture(scope="module")
def default_merchant(inproc: InProcEmulator) -> dict[str, Any]:
    """The merchant ``serve`` makes at first start (cli.py): DEFAULT_MCHID with the default appid."""
    return inproc.create_merchant(mchid=DEFAULT_MCHID, appid=APPID)


@pytest.fixture(scope="module")
def parties(inproc: InProcEmulator) -> Parties:
    return make_parties(Emu(inproc, inproc.http))  # type: ignore[arg-type]  # Emu reads only ``url``


def v2_post(
    inproc: InProcEmulator, path: str, fields: dict[str, str], key: str | None = None
) -> dict[str, str]:
    key = key or inproc.merchant(DEFAULT_MCHID)["api_key"]
    response = inproc.http.post(inproc.url + path, content=signed_body(fields, key))
    assert response.status_code == 200, response.text
    return parse(response.text)


def test_v2_sign_with_non_ascii_text_is_signerror(inproc: InProcEmulator, default_merchant: Any) -> None:
    for path in ("/pay/unifiedorder", "/sandboxnew/pay/getsignkey"):
        body = f"<xml><appid>{APPID}</appid><mch_id>{DEFAULT_MCHID}</mch_id><nonce_str>n</nonce_str>"
        body += "<sign>签名</sign></xml>"
        answer = parse(inproc.http.post(inproc.url + path, content=body.encode()).text)
        assert answer["err_code"] == "SIGNERROR", (path, answer)


def test_v2_values_are_signed_as_sent_spaces_included(inproc: InProcEmulator, default_merchant: Any) -> None:
    answer = v2_post(inproc, "/pay/unifiedorder", order_fields(body="商品 ", attach=" a "))
    assert answer["result_code"] == "SUCCESS", answer


@pytest.mark.parametrize(
    "overrides",
    [
        {"total_fee": "²"},
        {"total_fee": "١٠٠"},
        {"time_expire": "00010101000000"},
        {"time_start": "00010101000000"},
    ],
)
def test_v2_numbers_and_times_out_of_range(
    inproc: InProcEmulator, default_merchant: Any, overrides: dict[str, str]
) -> None:
    answer = v2_post(inproc, "/pay/unifiedorder", order_fields(**overrides))
    assert answer["return_code"] == "SUCCESS" and answer["err_code"] == "INVALID_REQUEST", answer


def test_v2_unterminated_declaration(inproc: InProcEmulator, default_merchant: Any) -> None:
    answer = parse(
        inproc.http.post(inproc.url + "/pay/unifiedorder", content=b'<?xml encoding="utf-8"><xml/>').text
    )
    assert answer["err_code"] == "XML_FORMAT_ERROR"


def test_v3_refund_from_must_add_up(
    inproc: InProcEmulator, default_merchant: Any, emu: Emu, v3api: Any
) -> None:
    api = v3api(inproc.merchant(DEFAULT_MCHID))
    out_trade_no = new_trade_no("F")
    api.request(
        "POST",
        "/v3/pay/transactions/native",
        api.prepay_body(out_trade_no, "https://127.0.0.1/n", payer=None),
    )
    emu.pay(mchid=DEFAULT_MCHID, out_trade_no=out_trade_no)
    body = {
        "out_trade_no": out_trade_no,
        "out_refund_no": "RF" + out_trade_no,
        "amount": {
            "refund": 10,
            "total": 100,
            "currency": "CNY",
            "from": [{"account": "AVAILABLE", "amount": 99}],
        },
    }
    answer = api.request("POST", "/v3/refund/domestic/refunds", body)
    assert answer.status_code == 400 and answer.json()["code"] == "PARAM_ERROR", answer.text
    deep = api.request("POST", "/v3/refund/domestic/refunds", DEEP_JSON)
    assert deep.status_code == 400 and deep.json()["code"] == "PARAM_ERROR", deep.text


def test_cloud_deep_json_and_year_one(emu: Emu, parties: Parties) -> None:
    for op in ("unifiedorder", "refund", "queryrefund"):
        deep = hosting(emu, op, DEEP_JSON)
        assert deep.status_code == 200 and deep.json()["errcode"] == -1, deep.text
    old = hosting(
        emu, "unifiedorder", {**SEED_001, "sub_mch_id": parties.sub, "time_expire": "00010101000000"}
    )
    assert old.status_code == 200 and old.json()["respdata"]["err_code"] == "INVALID_REQUEST", old.text
    fn = function(emu, "unifiedOrder", {**SEED_003, "subMchId": parties.sub, "timeExpire": "00010101000000"})
    assert fn.status_code == 200, fn.text


def test_mini_program_unreadable_bodies(inproc: InProcEmulator) -> None:
    url = inproc.url + "/cgi-bin/stable_token"
    surrogate = b'{"grant_type":"client_credential","appid":"\\ud800","secret":"x"}'
    for body in (surrogate, b"\xff\xff", DEEP_JSON):
        answer = inproc.http.post(url, content=body, headers={"Content-Type": "application/json"})
        assert answer.status_code == 200 and answer.json()["errcode"] not in (-1, 40066), (
            body[:20],
            answer.text,
        )

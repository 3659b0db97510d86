"""Inputs a review found to break the new families (each was a 500, a hot loop, a lost refund or a wrong
SIGNERROR before its fix): every one now gets the family's own answer."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from tests.e2e.cloud.test_flow import SEED_001, SEED_003, function, hosting, parties, register_function
from tests.e2e.v2.test_flow import APPID, parse, signed_body
from tests.support.common import DEFAULT_MCHID, new_trade_no, poll
from tests.support.emulator import Emu
from tests.support.receiver import Receiver
from wxpay_emulator.crypto import v2_sign
from wxpay_emulator.testing import EmulatorProcess

__all__ = ["parties"]  # the cloud module's fixture, used here too

DEEP_JSON = b"[" * 100_000 + b"]" * 100_000


def v2_post(
    process: EmulatorProcess, path: str, fields: dict[str, str], key: str | None = None
) -> dict[str, str]:
    key = key or process.merchant(DEFAULT_MCHID)["api_key"]
    response = httpx.post(process.url + path, content=signed_body(fields, key))
    assert response.status_code == 200, response.text
    return parse(response.text)


def order_fields(**overrides: str) -> dict[str, str]:
    fields = {
        "appid": APPID,
        "mch_id": DEFAULT_MCHID,
        "nonce_str": "n0nce",
        "body": "商品",
        "out_trade_no": new_trade_no("H"),
        "total_fee": "100",
        "spbill_create_ip": "127.0.0.1",
        "notify_url": "http://127.0.0.1:9/n",
        "trade_type": "APP",
    }
    fields.update(overrides)
    return fields


def test_v2_sign_with_non_ascii_text_is_signerror(emulator_process: EmulatorProcess) -> None:
    for path in ("/pay/unifiedorder", "/sandboxnew/pay/getsignkey"):
        body = f"<xml><appid>{APPID}</appid><mch_id>{DEFAULT_MCHID}</mch_id><nonce_str>n</nonce_str>"
        body += "<sign>签名</sign></xml>"
        answer = parse(httpx.post(emulator_process.url + path, content=body.encode()).text)
        assert answer["err_code"] == "SIGNERROR", (path, answer)


def test_v2_values_are_signed_as_sent_spaces_included(emulator_process: EmulatorProcess) -> None:
    answer = v2_post(emulator_process, "/pay/unifiedorder", order_fields(body="商品 ", attach=" a "))
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
    emulator_process: EmulatorProcess, overrides: dict[str, str]
) -> None:
    answer = v2_post(emulator_process, "/pay/unifiedorder", order_fields(**overrides))
    assert answer["return_code"] == "SUCCESS" and answer["err_code"] == "INVALID_REQUEST", answer


def test_v2_unterminated_declaration(emulator_process: EmulatorProcess) -> None:
    answer = parse(
        httpx.post(emulator_process.url + "/pay/unifiedorder", content=b'<?xml encoding="utf-8"><xml/>').text
    )
    assert answer["err_code"] == "XML_FORMAT_ERROR"


def test_v2_refund_inputs(emulator_process: EmulatorProcess, emu: Emu) -> None:
    placed = v2_post(emulator_process, "/pay/unifiedorder", fields := order_fields())
    assert placed["result_code"] == "SUCCESS"
    emu.pay(mchid=DEFAULT_MCHID, out_trade_no=fields["out_trade_no"])
    refund = {
        "appid": APPID,
        "mch_id": DEFAULT_MCHID,
        "nonce_str": "n",
        "out_trade_no": fields["out_trade_no"],
        "out_refund_no": "R" + fields["out_trade_no"],
        "total_fee": "100",
        "refund_fee": "100",
    }
    for bad in ({"refund_fee": "²"}, {"out_refund_no": "退款 1"}):
        answer = v2_post(emulator_process, "/secapi/pay/refund", {**refund, **bad})
        assert answer["err_code"] == "INVALID_REQUEST", (bad, answer)
    query = {k: refund[k] for k in ("appid", "mch_id", "nonce_str", "out_trade_no")}
    assert (
        v2_post(emulator_process, "/pay/refundquery", {**query, "offset": "²"})["err_code"]
        == "REFUNDNOTEXIST"
    )
    # A simulation-system refund of a production order is refused before anything is written ...
    sandbox_key = v2_sign.sandbox_key(emulator_process.merchant(DEFAULT_MCHID)["api_key"])
    refused = v2_post(emulator_process, "/sandboxnew/secapi/pay/refund", refund, key=sandbox_key)
    assert refused["err_code"] == "ORDERNOTEXIST"
    # ... so production can still refund all of it.
    assert v2_post(emulator_process, "/secapi/pay/refund", refund)["result_code"] == "SUCCESS"
    # refundquery pages by offset; an offset past total_refund_count is PARAM_ERROR.
    first_page = v2_post(emulator_process, "/pay/refundquery", {**query, "offset": "0"})
    assert first_page["total_refund_count"] == "1" and first_page["refund_count"] == "1"
    assert (
        v2_post(emulator_process, "/pay/refundquery", {**query, "offset": "1"})["err_code"] == "PARAM_ERROR"
    )


def test_v3_refund_from_must_add_up(emulator_process: EmulatorProcess, emu: Emu, v3api: Any) -> None:
    api = v3api(emulator_process.merchant(DEFAULT_MCHID))
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


def test_cloud_deep_json_and_year_one(emu: Emu, parties: Any) -> None:
    for op in ("unifiedorder", "refund", "queryrefund"):
        deep = hosting(emu, op, DEEP_JSON)
        assert deep.status_code == 200 and deep.json()["errcode"] == -1, deep.text
    old = hosting(
        emu, "unifiedorder", {**SEED_001, "sub_mch_id": parties.sub, "time_expire": "00010101000000"}
    )
    assert old.status_code == 200 and old.json()["respdata"]["err_code"] == "INVALID_REQUEST", old.text
    fn = function(emu, "unifiedOrder", {**SEED_003, "subMchId": parties.sub, "timeExpire": "00010101000000"})
    assert fn.status_code == 200, fn.text


def test_mini_program_unreadable_bodies(emulator_process: EmulatorProcess) -> None:
    url = emulator_process.url + "/cgi-bin/stable_token"
    surrogate = b'{"grant_type":"client_credential","appid":"\\ud800","secret":"x"}'
    for body in (surrogate, b"\xff\xff", DEEP_JSON):
        answer = httpx.post(url, content=body, headers={"Content-Type": "application/json"})
        assert answer.status_code == 200 and answer.json()["errcode"] not in (-1, 40066), (
            body[:20],
            answer.text,
        )


def test_an_unreadable_callback_answer_is_a_recorded_failed_attempt(
    emu: Emu, parties: Any, receiver: Receiver
) -> None:
    """A callback answered with JSON too deep to read is retried on the schedule, not in a hot loop."""
    receiver.reply = lambda _status: ("application/json", b"[" * 5000)
    register_function(emu, SEED_003["envId"], SEED_003["functionName"], receiver.url)
    out_trade_no = new_trade_no("HL")
    placed = function(emu, "unifiedOrder", {**SEED_003, "subMchId": parties.sub, "outTradeNo": out_trade_no})
    assert placed.status_code == 200, placed.text
    assert emu.pay(mchid=parties.sub, out_trade_no=out_trade_no).status_code == 200
    receiver.wait_for(3)
    time.sleep(0.5)
    note = poll(
        lambda: next(iter(emu.notifications()), None), lambda n: n is not None, "the callback's outbox row"
    )
    assert note is not None and note["status"] == "PENDING"
    # Every delivery the receiver saw is a recorded attempt (give or take the one in flight).
    assert len(receiver.requests) - note["attempts"] in (0, 1), (len(receiver.requests), note["attempts"])
    assert len(receiver.requests) < 10, json.dumps(note)[:200]

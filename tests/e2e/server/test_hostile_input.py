"""Inputs a review found to break the new families (each was a 500, a hot loop, a lost refund or a wrong
SIGNERROR before its fix): every one now gets the family's own answer. Here those that need the server:
the v2 refund inputs (rerun on PostgreSQL by test_families_postgres.py) and a callback retried by the real
dispatcher; the others run in process, tests/unit/api/test_hostile_input.py."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from tests.e2e.cloud.test_flow import SEED_003, function, parties, register_function
from tests.e2e.v2.test_flow import APPID, parse, signed_body
from tests.support.common import DEFAULT_MCHID, new_trade_no, poll
from tests.support.emulator import Emu
from tests.support.receiver import Receiver
from tests.support.v2 import order_fields
from wxpay_emulator.crypto import v2_sign
from wxpay_emulator.testing import EmulatorProcess

__all__ = ["parties"]  # the cloud module's fixture, used here too


def v2_post(
    process: EmulatorProcess, path: str, fields: dict[str, str], key: str | None = None
) -> dict[str, str]:
    key = key or process.merchant(DEFAULT_MCHID)["api_key"]
    response = httpx.post(process.url + path, content=signed_body(fields, key))
    assert response.status_code == 200, response.text
    return parse(response.text)


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

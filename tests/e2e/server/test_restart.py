"""A crash (SIGKILL) loses nothing: the outbox row survives and goes out by itself, same id, after the
restart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from wechatpayv3 import WeChatPayType

from tests.support.receiver import Receiver
from wxpay_emulator.clock import parse_rfc3339
from wxpay_emulator.testing import run_emulator

DEFAULT_MCHID = "1900000001"
ADVANCE = 11  # seconds of business clock: the 15 s retry falls due about 4 s later
MARGIN = 2.0  # seconds (the control plane's times are whole seconds) a kill may take at most
RETRY_WAIT = 40.0  # the retry is due at most 30 s (the third delay) after the kill


def quiet_until_due(emu: Any, receiver: Receiver, notification_id: str) -> dict[str, Any]:
    """The notification once every delivery made is recorded (none in flight) and the next is still at
    least MARGIN away; if it is nearer, that one is awaited first (bounded: three retries)."""
    for _ in range(3):
        n = emu.wait_notification(
            notification_id, lambda n: n["attempts"] == len(receiver.requests), "every delivery recorded"
        )
        now = parse_rfc3339(emu.control("GET", "/clock").json()["now"])
        assert n["status"] == "PENDING" and n["next_attempt_at"], n
        if (parse_rfc3339(n["next_attempt_at"]) - now).total_seconds() >= MARGIN:
            return n
        receiver.wait_for(n["attempts"] + 1, timeout=RETRY_WAIT)
    raise AssertionError(f"notification {notification_id}: no quiet moment to kill the process in")


def test_pending_notification_survives_sigkill(
    tmp_path: Path, receiver: Any, emu_for: Any, wxpay_for: Any, v3api_for: Any, trade_no: Any
) -> None:
    receiver.answer(then=503)
    # WeChat's own retry delays (15 s, 15 s, 30 s, ...): no delivery is due, so none is in flight (its row
    # leased for a minute, its answer racing the receiver's switch to 200) when the process is killed.
    with run_emulator(tmp_path / "data", env={"WXPAY_EMULATOR_NOTIFY_TIME_SCALE": "1"}) as process:
        emu = emu_for(process)
        merchant = process.merchant(DEFAULT_MCHID)
        wxpay = wxpay_for(process.url, merchant, receiver.url)
        out_trade_no = trade_no("CRASH")
        code, text = wxpay.pay(
            description="重启测试",
            out_trade_no=out_trade_no,
            amount={"total": 4321},
            pay_type=WeChatPayType.APP,
        )
        assert code == 200, text
        prepay_id = json.loads(text)["prepay_id"]
        paid = emu.pay(prepay_id=prepay_id)
        assert paid.status_code == 200, paid.text
        transaction = paid.json()

        [first] = receiver.wait_for(1)
        notification_id = json.loads(first.body)["id"]
        before = emu.wait_notification(notification_id, lambda n: n["attempts"] >= 1, "a failed delivery")
        assert before["status"] == "PENDING" and before["deliveries"][0]["response_status"] == 503
        # The business clock moves the retry nearer: it falls due about when the new process is up.
        moved = emu.control("POST", "/clock", json={"advance_seconds": ADVANCE})
        assert moved.status_code == 200
        before = quiet_until_due(emu, receiver, notification_id)

        old_pid = process.proc.pid if process.proc else None
        process.kill()
        assert process.proc is None
        receiver.answer(then=200)
        failed = len(receiver.requests)
        assert failed == before["attempts"] >= 1 and all(r.answered == 503 for r in receiver.requests)

        process.start()
        assert process.proc is not None and process.proc.pid != old_pid

        requests = receiver.wait_for(failed + 1, timeout=RETRY_WAIT)
        assert requests[-1].answered == 200
        assert {json.loads(r.body)["id"] for r in requests} == {notification_id}
        assert {r.body for r in requests} == {first.body}
        v3api_for(process.url, merchant).assert_headers_sign(requests[-1].headers, requests[-1].body.encode())
        event = wxpay.callback(requests[-1].headers, requests[-1].body)
        assert event is not None and event["resource"] == transaction

        after = emu.wait_notification(notification_id, lambda n: n["status"] == "DELIVERED", "DELIVERED")
        statuses = [d["response_status"] for d in after["deliveries"]]
        assert statuses[-1] == 200 and set(statuses[:-1]) == {503}
        assert after["attempts"] == len(statuses) == len(requests)

        # the order, its transaction and the business clock survived too
        code, text = wxpay.query(out_trade_no=out_trade_no)
        assert code == 200 and json.loads(text) == transaction
        clock = emu.control("GET", "/clock")
        assert clock.status_code == 200 and clock.json()["offset_seconds"] == ADVANCE
        code, text = wxpay.pay(
            description="重启测试",
            out_trade_no=out_trade_no,
            amount={"total": 4321},
            pay_type=WeChatPayType.APP,
        )
        assert code == 400 and json.loads(text)["code"] == "ORDERPAID"

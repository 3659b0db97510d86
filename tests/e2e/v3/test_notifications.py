"""Payment notifications: delivery, WeChat's retry schedule, acknowledgement, redelivery (DESIGN.md §2).

The module's emulator runs with the retry schedule 100x faster and a 1 s answer timeout (WeChat: 5 s).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import socket
import time
from typing import Any

import pytest
from wechatpayv3 import WeChatPay

from tests.support.v3 import paid_order

# WeChat's schedule after a failed delivery (seconds), scaled like the emulator below.
SCALE = 0.01
RETRY_DELAYS = (15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600)


@pytest.fixture(scope="module")
def emulator_env() -> dict[str, str]:
    return {"WXPAY_EMULATOR_NOTIFY_TIME_SCALE": str(SCALE), "WXPAY_EMULATOR_NOTIFY_TIMEOUT_SECONDS": "1"}


@pytest.fixture
def merchant(merchants: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return merchants["pubkey"]


@pytest.fixture
def wxpay(make_wxpay: Any, receiver: Any) -> WeChatPay:
    client: WeChatPay = make_wxpay("pubkey", receiver.url)
    return client


@pytest.fixture
def api(v3api: Any, merchant: dict[str, Any]) -> Any:
    return v3api(merchant)


def the_notification(emu: Any) -> dict[str, Any]:
    [notification] = emu.notifications()
    assert notification["event_type"] == "TRANSACTION.SUCCESS"
    return notification


def test_retried_until_acknowledged(
    wxpay: WeChatPay, api: Any, emu: Any, merchant: dict[str, Any], receiver: Any, trade_no: Any
) -> None:
    receiver.answer(500, 500, then=200)
    transaction = paid_order(
        wxpay, emu, merchant["mchid"], trade_no("RETRY"), total=321, description="通知测试"
    )

    requests = receiver.wait_for(3)
    assert [r.answered for r in requests] == [500, 500, 200]
    ids = {json.loads(r.body)["id"] for r in requests}
    assert len(ids) == 1, ids
    [notification_id] = ids
    assert len({r.body for r in requests}) == 1, "every retry carries the same bytes"
    assert len({r.headers["Wechatpay-Nonce"] for r in requests}) == 3, "each delivery is signed afresh"
    for r in requests:
        api.assert_headers_sign(r.headers, r.body.encode())
    # 15 s and 15 s on WeChat's schedule, scaled: never sooner
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(requests)]
    assert all(gap >= 15 * SCALE * 0.9 for gap in gaps), gaps

    event = wxpay.callback(requests[-1].headers, requests[-1].body)
    assert event is not None and event["id"] == notification_id
    assert event["resource"] == transaction

    n = emu.wait_notification(notification_id, lambda n: n["status"] == "DELIVERED", "DELIVERED")
    assert n["attempts"] == 3
    assert [d["response_status"] for d in n["deliveries"]] == [500, 500, 200]
    assert n["delivered_at"] is not None and n["next_attempt_at"] is None
    assert json.loads(n["body"])["id"] == notification_id
    assert n["body"] == requests[0].body
    time.sleep(0.4)  # an acknowledged notification is not sent again
    assert len(receiver.requests) == 3


def test_redeliver_sends_the_same_notification_again(
    wxpay: WeChatPay, api: Any, emu: Any, merchant: dict[str, Any], receiver: Any, trade_no: Any
) -> None:
    paid_order(wxpay, emu, merchant["mchid"], trade_no("REDELIVER"), total=321, description="通知测试")
    [first] = receiver.wait_for(1)
    notification_id = json.loads(first.body)["id"]
    emu.wait_notification(notification_id, lambda n: n["status"] == "DELIVERED", "DELIVERED")

    response = emu.control("POST", f"/notifications/{notification_id}/redeliver")
    assert response.status_code == 200, response.text
    assert response.json() == {"id": notification_id, "status": "PENDING"}
    first_again, second = receiver.wait_for(2)
    assert first_again == first
    assert json.loads(second.body)["id"] == notification_id and second.body == first.body
    api.assert_headers_sign(second.headers, second.body.encode())
    assert wxpay.callback(second.headers, second.body) is not None

    n = emu.wait_notification(notification_id, lambda n: len(n["deliveries"]) == 2, "a second delivery")
    assert n["status"] == "DELIVERED" and n["attempts"] == 2
    assert [d["response_status"] for d in n["deliveries"]] == [200, 200]


def test_redeliver_an_unknown_notification(emu: Any) -> None:
    response = emu.control("POST", "/notifications/00000000-0000-4000-8000-000000000000/redeliver")
    assert response.status_code == 404 and response.json()["code"] == "NOTIFICATION_NOT_FOUND"


@pytest.mark.parametrize(("first", "attempts"), [(204, 1), (202, 2), (404, 2), (302, 2)])
def test_only_200_and_204_acknowledge(
    wxpay: WeChatPay,
    emu: Any,
    merchant: dict[str, Any],
    receiver: Any,
    trade_no: Any,
    first: int,
    attempts: int,
) -> None:
    receiver.answer(first, then=200)
    paid_order(wxpay, emu, merchant["mchid"], trade_no("ACK"), total=321, description="通知测试")
    requests = receiver.wait_for(attempts)
    notification_id = json.loads(requests[0].body)["id"]
    n = emu.wait_notification(notification_id, lambda n: n["status"] == "DELIVERED", "DELIVERED")
    assert n["attempts"] == attempts
    assert [d["response_status"] for d in n["deliveries"]] == [first, 200][:attempts]
    time.sleep(0.3)
    assert len(receiver.requests) == attempts


def test_no_answer_within_the_timeout_is_a_failure(
    wxpay: WeChatPay, emu: Any, merchant: dict[str, Any], receiver: Any, trade_no: Any
) -> None:
    receiver.answer((200, 1.6), then=200)
    paid_order(wxpay, emu, merchant["mchid"], trade_no("SLOW"), total=321, description="通知测试")
    requests = receiver.wait_for(2)
    notification_id = json.loads(requests[0].body)["id"]
    n = emu.wait_notification(notification_id, lambda n: n["status"] == "DELIVERED", "DELIVERED")
    first, second = n["deliveries"]
    assert first["response_status"] is None and "Timeout" in first["error"]
    assert second["response_status"] == 200 and second["error"] is None
    assert n["attempts"] == 2


def test_unreachable_notify_url_keeps_the_notification_pending(
    emu: Any, merchants: dict[str, dict[str, Any]], wxpay_for: Any, trade_no: Any, receiver: Any
) -> None:
    with socket.socket() as s:  # a loopback port that nothing listens on
        s.bind(("127.0.0.1", 0))
        closed_port_url = f"http://127.0.0.1:{s.getsockname()[1]}/notify"
    client = wxpay_for(emu.url, merchants["pubkey"], closed_port_url)
    paid_order(client, emu, merchants["pubkey"]["mchid"], trade_no("DOWN"), total=321, description="通知测试")
    n = the_notification(emu)
    n = emu.wait_notification(n["id"], lambda n: n["attempts"] >= 2, "two failed attempts")
    assert n["status"] == "PENDING" and n["delivered_at"] is None
    assert all(d["response_status"] is None and d["error"] for d in n["deliveries"])
    assert receiver.requests == []


def _parse(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def test_schedule_runs_out_after_sixteen_deliveries(
    wxpay: WeChatPay, emu: Any, merchant: dict[str, Any], receiver: Any, trade_no: Any
) -> None:
    """1 + 15 retries on WeChat's schedule, then FAILED. The business clock is moved past each delay."""
    receiver.answer(then=500)
    paid_order(wxpay, emu, merchant["mchid"], trade_no("GIVEUP"), total=321, description="通知测试")
    notification_id = the_notification(emu)["id"]
    seen = 0
    for _ in range(2 * len(RETRY_DELAYS)):  # bounded: one pass per attempt, fewer if early retries merge
        n = emu.wait_notification(notification_id, lambda n, k=seen: n["attempts"] > k, f"attempt {seen + 1}")
        seen = n["attempts"]
        assert seen <= 1 + len(RETRY_DELAYS), n
        if n["status"] == "FAILED":
            break
        assert n["status"] == "PENDING"
        waited = _parse(n["next_attempt_at"]) - _parse(n["deliveries"][-1]["attempted_at"])
        expected = RETRY_DELAYS[seen - 1] * SCALE
        assert abs(waited.total_seconds() - expected) <= 1.0, (seen, waited, expected)
        if expected >= 3:
            # not due yet: nothing arrives until the business clock reaches next_attempt_at
            time.sleep(0.25)
            assert len(receiver.requests) == seen, "a retry came before its delay"
        moved = emu.control("POST", "/clock", json={"advance_seconds": expected + 1})
        assert moved.status_code == 200
    assert n["status"] == "FAILED" and n["next_attempt_at"] is None
    assert len(n["deliveries"]) == 16 and {d["response_status"] for d in n["deliveries"]} == {500}
    assert emu.control("POST", "/clock", json={"advance_seconds": 86400}).status_code == 200
    time.sleep(0.4)
    assert len(receiver.requests) == 16

"""Combine (合单) payments, seed 004, through wechatpayv3 2.0.4, unmodified, against the real emulator.

The initiator (``combine_mchid``) runs in public-key mode and in certificate mode. Its sub-orders
belong to itself, to its sub-merchant and to a merchant bound to ``combine_appid``. Here: the paid,
notified and queried flow, and seed 004's fault rows as wechatpayv3 sees them. The rules of re-entry,
close and time_expire, every row of seed 004's error table and the answer of every trade type are
tested in process, hand-signed: tests/unit/api/v3/test_combine.py.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from wechatpayv3 import WeChatPay, WeChatPayType

from tests.support.combine import (
    FAULT_ROWS,
    MODES,
    SCENE,
    arm,
    as_json,
    assert_v3_error,
    check_paid,
    check_unpaid,
    make_parties,
    prepay_id_of,
    three_subs,
    two_subs,
)
from tests.support.common import OPENID, new_trade_no
from tests.support.emulator import Emu
from tests.support.receiver import Receiver
from wxpay_emulator.testing import EmulatorProcess

# kind in the path -> wechatpayv3 pay_type
PAY_TYPES = {
    "app": WeChatPayType.APP,
    "jsapi": WeChatPayType.JSAPI,
    "h5": WeChatPayType.H5,
    "native": WeChatPayType.NATIVE,
}


# --- fixtures --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def parties(emulator_process: EmulatorProcess, merchants: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The other merchants a combine order involves (made once per module: keys take a moment)."""
    return make_parties(emulator_process, merchants)


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def initiator(mode: str, merchants: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return merchants[mode]


@pytest.fixture
def wxpay(make_wxpay: Callable[[str, str], WeChatPay], mode: str, receiver: Receiver) -> WeChatPay:
    return make_wxpay(mode, receiver.url)


@pytest.fixture(autouse=True)
def no_faults(emu: Emu) -> Iterator[None]:
    """No armed fault leaks into or out of a test."""
    assert emu.control("DELETE", "/faults").status_code == 200
    yield
    assert emu.control("DELETE", "/faults").status_code == 200


# --- helpers: wechatpayv3's combine calls ----------------------------------------------------------------


def place(
    wxpay: WeChatPay, kind: str, combine_out_trade_no: str, subs: list[dict[str, Any]], **extra: Any
) -> tuple[int, dict[str, Any]]:
    """wechatpayv3's combine_pay with seed 004's example scene_info (and openid for JSAPI)."""
    extra.setdefault("scene_info", dict(SCENE))
    if kind == "jsapi":
        extra.setdefault("combine_payer_info", {"openid": OPENID})
    code, text = wxpay.combine_pay(
        combine_out_trade_no=combine_out_trade_no,
        sub_orders=copy.deepcopy(subs),
        pay_type=PAY_TYPES[kind],
        **extra,
    )
    return code, as_json(text)


def query(wxpay: WeChatPay, combine_out_trade_no: str) -> tuple[int, dict[str, Any]]:
    code, text = wxpay.combine_query(combine_out_trade_no)
    return code, as_json(text)


def close(
    wxpay: WeChatPay, combine_out_trade_no: str, subs: list[dict[str, Any]], **kwargs: Any
) -> tuple[int, Any]:
    keys = [{"mchid": s["mchid"], "out_trade_no": s["out_trade_no"]} for s in subs]
    code, text = wxpay.combine_close(combine_out_trade_no, keys, **kwargs)
    return code, text


# --- the flow: place, pay, one notification, query -------------------------------------------------------


def test_combine_paid_notified_and_queried(
    mode: str,
    initiator: dict[str, Any],
    parties: dict[str, Any],
    wxpay: WeChatPay,
    emu: Emu,
    receiver: Receiver,
) -> None:
    """JSAPI in both key modes; the other trade types' answers are checked in process (same checks)."""
    kind = "jsapi"
    subs = three_subs(initiator, parties, mode)
    combine_out_trade_no = new_trade_no(f"C{kind.upper()}")
    code, answer = place(wxpay, kind, combine_out_trade_no, subs)
    assert code == 200, answer
    prepay_id = prepay_id_of(kind, answer)
    assert prepay_id.startswith("wx")

    code, unpaid = query(wxpay, combine_out_trade_no)
    assert code == 200, unpaid
    check_unpaid(unpaid, kind, initiator, combine_out_trade_no, subs)
    assert receiver.requests == []

    paid = emu.pay(prepay_id=prepay_id)
    assert paid.status_code == 200, paid.text
    # One notification for the whole combine order, not one per sub-order.
    assert len(emu.notifications()) == 1

    [notice] = receiver.wait_for(1)
    assert notice.headers.get("Wechatpay-Serial") == (
        initiator["pub_key_id"] if mode == "pubkey" else initiator["platform_serial"]
    )
    event = wxpay.callback(notice.headers, notice.body)
    assert event is not None, "wechatpayv3 could not verify or decrypt the combine notification"
    assert event["event_type"] == "TRANSACTION.SUCCESS"
    assert event["resource_type"] == "encrypt-resource"
    assert event["id"] == json.loads(notice.body)["id"]
    resource = event["resource"]

    code, queried = query(wxpay, combine_out_trade_no)
    assert code == 200
    assert resource == queried == paid.json()
    check_paid(queried, unpaid, kind, subs, emu)

    delivered = emu.wait_notification(event["id"], lambda n: n["status"] == "DELIVERED", "DELIVERED")
    assert delivered["attempts"] == 1 and delivered["url"] == receiver.url
    assert len(emu.notifications()) == 1 and len(receiver.requests) == 1
    assert receiver.stray == []


# --- seed 004's fault rows, as wechatpayv3 sees them -------------------------------------------------------


def test_fault_rows_through_wechatpayv3(
    initiator: dict[str, Any], parties: dict[str, Any], wxpay: WeChatPay, emu: Emu
) -> None:
    """Every row armed on prepay, and one on query and on close: wechatpayv3 gets the seed's status and
    code, and the operation succeeds once the fault is spent."""
    for code, status in FAULT_ROWS:
        arm(emu, "combine.prepay", code)
        subs = two_subs(initiator["mchid"], parties["bound"]["mchid"])
        assert_v3_error(place(wxpay, "native", new_trade_no("FAULT"), subs), status, code)
    assert emu.control("GET", "/faults").json() == {"pending": {}}

    subs = two_subs(initiator["mchid"], parties["bound"]["mchid"])
    combine_out_trade_no = new_trade_no("FQ")
    assert place(wxpay, "app", combine_out_trade_no, subs)[0] == 200
    arm(emu, "combine.query", "SYSTEMERROR")
    assert_v3_error(query(wxpay, combine_out_trade_no), 500, "SYSTEMERROR")
    assert query(wxpay, combine_out_trade_no)[0] == 200
    arm(emu, "combine.close", "FREQUENCY_LIMITED")
    code, text = close(wxpay, combine_out_trade_no, subs)
    assert_v3_error((code, as_json(text)), 429, "FREQUENCY_LIMITED")
    assert close(wxpay, combine_out_trade_no, subs) == (204, b"")

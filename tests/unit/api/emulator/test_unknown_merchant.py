"""The control plane answers one documented code for a mchid it does not know, whatever was asked of that
merchant (docs/control-plane.md): 404 MCH_NOT_EXISTS, not the order's or the refund's "does not exist",
which would say the merchant does. A known merchant's missing order or refund keeps its own code."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.inproc import InProcEmulator

UNKNOWN = "1999999999"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/emulator/v1/payments", {"mchid": UNKNOWN, "out_trade_no": "NOSUCH0001"}),
        ("/emulator/v1/payments", {"mchid": UNKNOWN, "out_trade_no": "NOSUCH0001", "result": "PAYERROR"}),
        ("/emulator/v1/refunds", {"mchid": UNKNOWN, "out_trade_no": "NOSUCH0001", "amount": 1}),
        ("/emulator/v1/refunds/NOSUCHREFUND", {"mchid": UNKNOWN, "status": "SUCCESS"}),
    ],
)
def test_an_unknown_mchid_is_mch_not_exists(inproc: InProcEmulator, path: str, body: dict[str, Any]) -> None:
    answer = inproc.http.post(inproc.url + path, json=body)
    assert answer.status_code == 404, answer.text
    assert answer.json()["code"] == "MCH_NOT_EXISTS", answer.text
    assert UNKNOWN in answer.json()["message"]


def test_a_known_merchants_missing_order_or_refund_keeps_its_code(
    inproc: InProcEmulator, merchants: dict[str, dict[str, Any]]
) -> None:
    mchid = merchants["pubkey"]["mchid"]
    pay = inproc.http.post(
        inproc.url + "/emulator/v1/payments", json={"mchid": mchid, "out_trade_no": "NOSUCH0001"}
    )
    assert (pay.status_code, pay.json()["code"]) == (404, "ORDER_NOT_EXIST"), pay.text
    refund = inproc.http.post(
        inproc.url + "/emulator/v1/refunds", json={"mchid": mchid, "out_trade_no": "NOSUCH0001", "amount": 1}
    )
    assert (refund.status_code, refund.json()["code"]) == (404, "RESOURCE_NOT_EXISTS"), refund.text

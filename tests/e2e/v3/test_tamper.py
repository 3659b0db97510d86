"""Response tampering (``POST /emulator/v1/faults {"operation", "tamper"}``): the armed answer carries a
broken Wechatpay-Signature, an unknown Wechatpay-Serial or a stale Wechatpay-Timestamp, and the
merchant's SDK must refuse it. Each tamper is counted: the call after it is answered normally."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from tests.support.common import new_trade_no
from tests.support.v3 import V3Api, platform_public_key, verify_wechatpay_signature
from wxpay_emulator.client import EmulatedMerchant, EmulatorClient, EmulatorError

OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"


def as_dict(m: EmulatedMerchant) -> dict[str, Any]:
    """The merchant in the shape tests/e2e/conftest.py's helpers take (merchant.json + PEM texts)."""
    return {
        "mchid": m.mchid, "appid": m.appid, "serial_no": m.serial_no, "key_mode": m.key_mode,
        "pub_key_id": m.pub_key_id,
        "platform_serial": m.platform_serial, "apiclient_key.pem": m.private_key_pem,
        "pub_key.pem": m.pub_key_pem, "wechatpay_cert.pem": m.platform_cert_pem,
    }  # fmt: skip


@pytest.fixture(params=["pubkey", "cert"])
def placed(
    request: pytest.FixtureRequest, wxpay_emulator: EmulatorClient
) -> tuple[EmulatedMerchant, Any, str]:
    merchant = wxpay_emulator.merchant(key_mode=request.param)
    wxpay = wxpay_emulator.wechatpayv3_client(merchant)
    out_trade_no = new_trade_no("TMP")
    code, text = wxpay.pay(description="tea", out_trade_no=out_trade_no, amount={"total": 3},
                           payer={"openid": OPENID})  # fmt: skip
    assert code == 200, text
    return merchant, wxpay, out_trade_no


@pytest.mark.parametrize("tamper", ["signature", "serial"])
def test_wechatpayv3_refuses_a_tampered_answer(
    wxpay_emulator: EmulatorClient, placed: tuple[EmulatedMerchant, Any, str], tamper: str
) -> None:
    merchant, wxpay, out_trade_no = placed
    armed = wxpay_emulator.arm_fault("pay.query", tamper=tamper)
    assert armed["pending"]["pay.query"] == [f"tamper:{tamper}"]
    with pytest.raises(Exception) as refused:  # wechatpayv3 raises a bare Exception
        wxpay.query(out_trade_no=out_trade_no)
    if tamper == "serial" and merchant.key_mode == "pubkey":
        # wechatpayv3 2.0.4 takes a serial other than its public_key_id for a certificate's hex serial.
        assert isinstance(refused.value, ValueError) and "PUB_KEY_ID_" in str(refused.value)
    else:
        assert str(refused.value) == "failed to verify the signature"
    # Counted: the next answer is genuine again, and nothing else is left armed.
    code, text = wxpay.query(out_trade_no=out_trade_no)
    assert code == 200 and json.loads(text)["trade_state"] == "NOTPAY"
    assert "pay.query" not in wxpay_emulator.arm_fault("pay.close", tamper="signature", count=1)["pending"]
    wxpay_emulator.clear_faults()


def test_the_tampered_headers_are_broken_in_exactly_one_way(wxpay_emulator: EmulatorClient) -> None:
    merchant = wxpay_emulator.merchant()
    serial, key = platform_public_key(as_dict(merchant))
    with httpx.Client(trust_env=False, timeout=30) as http:
        api = V3Api(wxpay_emulator.url, as_dict(merchant), http)
        out_trade_no = new_trade_no("TMH")
        placed = api.request(
            "POST", "/v3/pay/transactions/jsapi", api.prepay_body(out_trade_no, "http://127.0.0.1:9/n")
        )
        assert placed.status_code == 200, placed.text
        path = f"/v3/pay/transactions/out-trade-no/{out_trade_no}?mchid={merchant.mchid}"

        def query(tamper: str | None) -> httpx.Response:
            if tamper:
                wxpay_emulator.arm_fault("pay.query", tamper=tamper)
            response = api.request("GET", path)
            assert response.status_code == 200, response.text
            return response

        genuine = query(None)
        verify_wechatpay_signature(genuine.headers, genuine.content, key, serial)

        broken = query("signature")
        with pytest.raises(AssertionError, match="does not verify"):
            verify_wechatpay_signature(broken.headers, broken.content, key, serial)

        unknown = query("serial")
        assert unknown.headers["Wechatpay-Serial"] not in (merchant.pub_key_id, merchant.platform_serial)
        assert unknown.headers["Wechatpay-Serial"].startswith("PUB_KEY_ID_")  # same shape, unknown
        verify_wechatpay_signature(
            {**dict(unknown.headers), "wechatpay-serial": serial}, unknown.content, key, serial
        )

        stale = query("timestamp")
        age = time.time() - int(stale.headers["Wechatpay-Timestamp"])
        assert 300 < age < 420
        verify_wechatpay_signature(
            stale.headers, stale.content, key, serial, max_skew=420
        )  # genuinely signed


def test_wechatpayv3_2_0_4_does_not_check_the_timestamp(
    wxpay_emulator: EmulatorClient, placed: tuple[EmulatedMerchant, Any, str]
) -> None:
    """wechatpayv3 verifies serial and signature but never the age of Wechatpay-Timestamp: a stale answer
    passes. This test pins that known gap (docs/testing.md tells merchants to check it themselves); it
    fails, and should then be turned around, the day the SDK starts refusing stale answers."""
    _merchant, wxpay, out_trade_no = placed
    wxpay_emulator.arm_fault("pay.query", tamper="timestamp")
    code, text = wxpay.query(out_trade_no=out_trade_no)
    assert code == 200 and json.loads(text)["out_trade_no"] == out_trade_no


def test_bad_fault_requests(wxpay_emulator: EmulatorClient) -> None:
    for body in (
        {"operation": "pay.query", "tamper": "nonce"},
        {"operation": "pay.query"},
        {"operation": "pay.query", "tamper": "signature", "code": "SYSTEM_ERROR"},
        {"operation": "v2.orderquery", "tamper": "signature"},
        {"operation": "nope", "tamper": "serial"},
        {"operation": "pay.query", "tamper": "serial", "count": 0},
    ):
        answer = httpx.post(wxpay_emulator.url + "/emulator/v1/faults", json=body, trust_env=False)
        assert answer.status_code == 400 and answer.json()["code"] == "PARAM_ERROR", (body, answer.text)
    with pytest.raises(EmulatorError) as refused:
        wxpay_emulator.arm_fault("pay.query", tamper="bogus")
    assert refused.value.code == "PARAM_ERROR"
    assert wxpay_emulator.arm_fault("pay.query", "SYSTEM_ERROR")["pending"] == {"pay.query": ["SYSTEM_ERROR"]}
    wxpay_emulator.clear_faults()

"""Issue 10 item 5: ``serve --tls`` trusts, at each handshake, every merchant the store holds then: the
cloud provider made at first start and a merchant created while the server runs, without a restart.
wechatpy calls ``/secapi/pay/refund`` with each merchant's own API certificate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from wechatpy.exceptions import WeChatPayException
from wechatpy.pay import WeChatPay as WeChatPayV2

from tests.support.common import new_trade_no
from wxpay_emulator.domain.cloud_pay import PROVIDER_MCHID
from wxpay_emulator.testing import EmulatorProcess, run_emulator


def v2_client(
    process: EmulatorProcess, m: dict[str, Any], cert_of: dict[str, Any] | None = None
) -> WeChatPayV2:
    owner = Path((cert_of or m)["folder"])
    client = WeChatPayV2(
        m["appid"],
        m["api_key"],
        m["mchid"],
        timeout=10,
        mch_cert=str(owner / "apiclient_cert.pem"),
        mch_key=str(owner / "apiclient_key.pem"),
    )
    client.API_BASE_URL = process.url + "/"
    client._http.trust_env = False
    client._http.verify = str(process.server_certificate)
    return client


def paid(process: EmulatorProcess, client: WeChatPayV2) -> str:
    out_trade_no = new_trade_no("TT")
    client.order.create(
        "APP", "TLS", 100, "http://127.0.0.1:9/n", client_ip="127.0.0.1", out_trade_no=out_trade_no
    )
    answer = httpx.post(
        process.url + "/emulator/v1/payments",
        json={"mchid": client.mch_id, "out_trade_no": out_trade_no},
        **process.http_options(),
    )
    assert answer.status_code == 200, answer.text
    return out_trade_no


def test_tls_trusts_merchants_made_at_first_start_and_while_running(tmp_path: Path) -> None:
    with run_emulator(tmp_path / "fresh", tls=True) as process:
        provider = process.merchant(PROVIDER_MCHID)
        later = process.create_merchant(key_mode="pubkey")  # created after the server started
        for m in (provider, later):
            client = v2_client(process, m)
            out_trade_no = paid(process, client)
            refunded = client.refund.apply(100, 10, "R" + out_trade_no, out_trade_no=out_trade_no)
            assert refunded["result_code"] == "SUCCESS", (m["mchid"], refunded)
        # Trust is per certificate, the check per merchant: another merchant's certificate is refused.
        wrong = v2_client(process, later, cert_of=provider)
        out_trade_no = paid(process, v2_client(process, later))
        with pytest.raises(WeChatPayException) as refused:
            wrong.refund.apply(100, 10, "W" + out_trade_no, out_trade_no=out_trade_no)
        assert refused.value.errcode == "CERT_ERROR"

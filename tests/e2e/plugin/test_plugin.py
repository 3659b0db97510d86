"""The plugin's client and server as a merchant's suite uses them (the ``wxpay_emulator`` fixture of this
very session): merchant material, the wechatpy helper, notifications, the journal, PostgreSQL."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from tests.e2e.v2.test_flow import create
from tests.support.common import OPENID, new_trade_no
from tests.support.postgres import fresh_postgres_database
from tests.support.receiver import Receiver
from wxpay_emulator.client import EmulatorClient, EmulatorError, JournalUnavailable, NotificationTimeout
from wxpay_emulator.crypto import keys
from wxpay_emulator.server import ThreadedEmulator, emulator_server


def test_merchant_material(wxpay_emulator: EmulatorClient) -> None:
    provider = wxpay_emulator.merchant(key_mode="cert", appids=["wx0000000000000001"])
    assert provider.key_mode == "cert" and provider.appids == (provider.appid, "wx0000000000000001")
    assert provider.private_key_path.read_text() == provider.private_key_pem
    assert keys.certificate_serial(provider.certificate_pem.encode()) == provider.serial_no.upper()
    assert (provider.cert_dir / f"{provider.platform_serial}.pem").read_text() == provider.platform_cert_pem
    assert provider.wechatpay_serial == provider.platform_serial
    assert provider.wechatpay_public_pem == provider.platform_cert_pem
    sub = wxpay_emulator.merchant(sp_mchid=provider)
    assert sub.sp_mchid == provider.mchid and sub.mchid != provider.mchid
    assert sub.wechatpay_serial == sub.pub_key_id and sub.pub_key_path.read_text() == sub.pub_key_pem
    assert wxpay_emulator.get_merchant(sub.mchid) == sub


def test_wechatpy_client_and_a_v2_notification(wxpay_emulator: EmulatorClient, receiver: Receiver) -> None:
    receiver.reply = lambda status: ("text/xml", b"<xml><return_code>SUCCESS</return_code></xml>")
    merchant = wxpay_emulator.merchant()
    client = wxpay_emulator.wechatpy_client(merchant)
    out_trade_no = new_trade_no("PLG")
    created = create(client, out_trade_no=out_trade_no, notify_url=receiver.url)
    assert created["result_code"] == "SUCCESS", created
    wxpay_emulator.pay(merchant, out_trade_no, openid=OPENID)
    notice = wxpay_emulator.wait_for_notification(out_trade_no=out_trade_no)
    assert notice.family == "v2" and notice.resource["result_code"] == "SUCCESS"
    assert client.order.query(out_trade_no=out_trade_no)["trade_state"] == "SUCCESS"
    # A v2 refund notification's req_info is decrypted too.
    out_refund_no = "PLGR" + out_trade_no[-12:]
    applied = wxpay_emulator.refund(merchant, out_trade_no, 1, out_refund_no=out_refund_no,
                                    notify_url=receiver.url)  # fmt: skip
    assert applied["refund"]["status"] == "PROCESSING"
    assert wxpay_emulator.settle_refund(merchant, out_refund_no)["refund"]["status"] == "SUCCESS"
    refunded = wxpay_emulator.wait_for_notification(out_refund_no=out_refund_no, status=None)
    assert refunded.event_type == "REFUND.SUCCESS"


def test_wait_for_notification_is_bounded_and_says_what_it_saw(wxpay_emulator: EmulatorClient) -> None:
    merchant = wxpay_emulator.merchant()
    wxpay = wxpay_emulator.wechatpayv3_client(merchant, notify_url="http://127.0.0.1:9/closed")
    out_trade_no = new_trade_no("PLW")
    code, text = wxpay.pay(description="tea", out_trade_no=out_trade_no, amount={"total": 1},
                           payer={"openid": OPENID})  # fmt: skip
    assert code == 200, text
    wxpay_emulator.pay(merchant, out_trade_no)
    found = wxpay_emulator.wait_for_notification(out_trade_no=out_trade_no, status=None)
    assert found.resource["out_trade_no"] == out_trade_no and found.mchid == merchant.mchid
    with pytest.raises(NotificationTimeout, match="attempts"):
        wxpay_emulator.wait_for_notification(out_trade_no=out_trade_no, timeout=0.3)
    assert wxpay_emulator.notifications(wxpay_emulator.merchant()) == []


def test_requests_is_the_journal_or_says_it_is_missing(wxpay_emulator: EmulatorClient) -> None:
    merchant = wxpay_emulator.merchant()
    served = httpx.get(wxpay_emulator.url + "/emulator/v1/requests", params={"mchid": merchant.mchid},
                       trust_env=False)  # fmt: skip
    if served.status_code == 404:
        with pytest.raises(JournalUnavailable, match="no request journal"):
            wxpay_emulator.requests(merchant)
    else:
        assert isinstance(wxpay_emulator.requests(merchant), list)


def test_threaded_server_starts_and_stops(tmp_path: Path) -> None:
    with emulator_server(tmp_path / "emu") as emu:
        assert emu.health()["status"] == "ok"
        port = int(emu.url.rsplit(":", 1)[1])
    with socket.socket() as s:  # the port is free again: the server let go of it
        s.bind(("127.0.0.1", port))


def test_threaded_server_on_postgresql(tmp_path: Path) -> None:
    with fresh_postgres_database("wxpay_plugin") as name:
        server = ThreadedEmulator(tmp_path, database_url=f"postgresql://postgres@127.0.0.1:5432/{name}")
        emu = server.start()
        try:
            assert emu.health()["store"] == "postgresql"
            merchant = emu.merchant()
            assert emu.orders(merchant) == []
        finally:
            emu.close()
            server.stop()


def test_client_sends_the_control_token(tmp_path: Path) -> None:
    server = ThreadedEmulator(tmp_path, control_token="plugin-token-123")
    anonymous = server.start()
    try:
        with pytest.raises(EmulatorError) as refused:
            anonymous.merchant()
        assert refused.value.status == 401
        with EmulatorClient(server.url, token="plugin-token-123") as emu:
            assert emu.orders(emu.merchant()) == []
    finally:
        anonymous.close()
        server.stop()

"""The shop's tests, written with the wxpay-emulator pytest plugin (the ``wxpay_emulator`` fixture)."""

from __future__ import annotations

import secrets

import pytest
from harness import RunningShop

from wxpay_emulator.client import EmulatorClient


def new_order_no() -> str:
    return "SHOP_" + secrets.token_hex(8)


def test_paid_order_is_marked_paid_once(wxpay_emulator: EmulatorClient, shop: RunningShop) -> None:
    pytest.importorskip("wechatpayv3")
    wxpay = wxpay_emulator.wechatpayv3_client(shop.merchant, notify_url=shop.notify_url)
    out_trade_no = new_order_no()
    code, text = wxpay.pay(
        description="a cup of tea", out_trade_no=out_trade_no, amount={"total": 100},
        payer={"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
    )  # fmt: skip
    assert code == 200, text
    wxpay_emulator.pay(shop.merchant, out_trade_no)
    notice = wxpay_emulator.wait_for_notification(out_trade_no=out_trade_no)  # acknowledged by the shop
    assert notice.status == "DELIVERED"
    assert shop.orders.paid[out_trade_no]["trade_state"] == "SUCCESS"
    assert shop.orders.times_processed[out_trade_no] == 1


def test_notify_handler_passes_the_audit(wxpay_emulator: EmulatorClient, shop: RunningShop) -> None:
    report = wxpay_emulator.audit_notify(shop.notify_url, merchant=shop.merchant)
    assert report.passed, report.failed()


def test_naive_handler_fails_every_refused_check(wxpay_emulator: EmulatorClient, shop: RunningShop) -> None:
    report = wxpay_emulator.audit_notify(shop.naive_notify_url, merchant=shop.merchant)
    assert not report.passed
    assert sorted(report.failed()) == sorted(c.name for c in report.checks if c.name.endswith("_refused"))


def test_cert_mode_handler_passes_the_audit(
    wxpay_emulator: EmulatorClient, cert_mode_shop: RunningShop
) -> None:
    report = wxpay_emulator.audit_notify(cert_mode_shop.notify_url, merchant=cert_mode_shop.merchant)
    assert report.passed, report.failed()

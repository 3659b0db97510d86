"""The checkout page behind h5_url and the CLI, against the real server process.

The CLI commands run in process (tests/support/cli.py); ``test_cli_unreachable_emulator`` runs
``python -m wxpay_emulator`` for its exit status 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.cli import CliRun, emulator_env, run_cli
from tests.support.sdk import build_wxpay
from tests.support.v3 import place as sdk_place
from wxpay_emulator.testing import EmulatorProcess, run_emulator


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    with run_emulator(tmp_path_factory.mktemp("checkout")) as emulator:
        yield emulator


def cli(emu: EmulatorProcess, *args: str) -> CliRun:
    env = {**emulator_env(), "WXPAY_EMULATOR_URL": emu.url, "WXPAY_EMULATOR_DATA_DIR": str(emu.data_dir)}
    return run_cli(*args, env=env)


def place(emu: EmulatorProcess, out_trade_no: str, total: int = 1234) -> str:
    """Place an H5 order with wechatpayv3 and return its h5_url."""
    wxpay = build_wxpay(emu.url, emu.merchant(), "http://127.0.0.1:9/notify")
    code, placed = sdk_place(wxpay, "H5", out_trade_no, total, description="深圳腾大-QQ公仔")
    assert code == 200, placed
    h5_url: str = placed["h5_url"]
    assert h5_url.startswith(emu.url + "/emulator/v1/checkout?prepay_id=wx")
    return h5_url


def test_checkout_page_pays_the_order(emu: EmulatorProcess) -> None:
    url = place(emu, "H5PAGE0001")
    page = httpx.get(url, trust_env=False)
    assert page.status_code == 200
    assert "¥12.34" in page.text and "立即支付" in page.text and "订单未支付" in page.text
    prepay_id = url.rsplit("=", 1)[1]
    form = {"prepay_id": prepay_id, "result": "NOTENOUGH"}
    # POST, redirect, GET: each answer is a 303 back to the page, which shows the outcome
    short = httpx.post(emu.url + "/emulator/v1/checkout", data=form, trust_env=False)
    assert short.status_code == 303
    short = httpx.get(emu.url + short.headers["location"], trust_env=False)
    assert short.status_code == 200 and "余额不足" in short.text and "立即支付" in short.text
    paid = httpx.post(
        emu.url + "/emulator/v1/checkout",
        data={**form, "result": "SUCCESS"},
        trust_env=False,
        follow_redirects=True,
    )
    assert paid.status_code == 200 and "支付成功" in paid.text and "立即支付" not in paid.text
    again = httpx.post(
        emu.url + "/emulator/v1/checkout",
        data={**form, "result": "SUCCESS"},
        trust_env=False,
        follow_redirects=True,
    )
    assert again.status_code == 200 and "已支付" in again.text


def test_checkout_page_for_an_unknown_prepay_id(emu: EmulatorProcess) -> None:
    page = httpx.get(emu.url + "/emulator/v1/checkout?prepay_id=wx0", trust_env=False)
    assert page.status_code == 404 and "prepay_id无效" in page.text


def test_cli_pay_and_orders(emu: EmulatorProcess) -> None:
    place(emu, "CLIPAY0001", total=100)
    paid = cli(emu, "pay", "CLIPAY0001")
    assert paid.returncode == 0, paid.stderr
    assert json.loads(paid.stdout)["trade_state"] == "SUCCESS"
    again = cli(emu, "pay", "CLIPAY0001")
    assert again.returncode == 1 and "ORDER_PAID" in again.stdout
    table = cli(emu, "orders")
    assert table.returncode == 0 and "CLIPAY0001" in table.stdout and "SUCCESS" in table.stdout
    missing = cli(emu, "pay", "NOSUCH0001", "--result", "PAYERROR")
    assert missing.returncode == 1 and "ORDER_NOT_EXIST" in missing.stdout


def test_cli_merchant_create_and_list(emu: EmulatorProcess) -> None:
    made = cli(emu, "merchant", "create", "--mchid", "1900000777", "--key-mode", "cert", "--json")
    assert made.returncode == 0, made.stderr
    info = json.loads(made.stdout)
    assert info["mchid"] == "1900000777" and info["key_mode"] == "cert"
    folder = Path(info["files"]["apiclient_key.pem"]).parent
    assert (folder / "certs" / f"{info['platform_serial']}.pem").exists()
    assert json.loads((folder / "merchant.json").read_text())["serial_no"] == info["serial_no"]
    dup = cli(emu, "merchant", "create", "--mchid", "1900000777")
    assert dup.returncode == 1
    listed = cli(emu, "merchant", "list")
    assert "1900000777" in listed.stdout and "1900000001" in listed.stdout
    # the running server sees the merchant created by another process
    assert httpx.get(emu.url + "/emulator/v1/merchants/1900000777", trust_env=False).status_code == 200


def test_cli_unreachable_emulator() -> None:
    env = {**os.environ, "WXPAY_EMULATOR_URL": "http://127.0.0.1:9"}
    done = subprocess.run(
        [sys.executable, "-m", "wxpay_emulator", "orders"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 2 and "cannot reach" in done.stdout


def test_merchant_endpoint_refuses_bad_appids(emu: EmulatorProcess) -> None:
    url = emu.url + "/emulator/v1/merchants"
    too_long = httpx.post(url, json={"appids": ["wx" + "a" * 31]}, trust_env=False, timeout=30)
    assert too_long.status_code == 400 and too_long.json()["code"] == "PARAM_ERROR"
    twice = httpx.post(url, json={"appids": ["wxbbbbbbbbbbbbbbbb"] * 2}, trust_env=False, timeout=30)
    assert twice.status_code == 201, twice.text
    assert twice.json()["appids"].count("wxbbbbbbbbbbbbbbbb") == 1
    again = httpx.post(url, json={"mchid": twice.json()["mchid"]}, trust_env=False, timeout=30)
    assert again.status_code == 409 and again.json()["code"] == "MERCHANT_EXISTS"

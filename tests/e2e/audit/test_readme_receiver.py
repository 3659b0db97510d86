"""The README's five-minute notification receiver is one a merchant may copy: run as written (only the
pasted wechatpayv3 config, the emulator's URL and the receiver's port put in), it passes every check of
``audit notify``. wechatpayv3's ``callback`` alone does not: it leaves the timestamp's age to the caller
and raises on an unknown ``PUB_KEY_ID_`` serial (docs/testing.md)."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from pathlib import Path

from wxpay_emulator.client import EmulatedMerchant, EmulatorClient
from wxpay_emulator.testing import free_port

REPO = Path(__file__).resolve().parents[3]
START_SECONDS = 60.0


def receiver_source(merchant: EmulatedMerchant, emulator_url: str, port: int) -> str:
    """README's receiver with what `make serve` printed pasted in, pointed at this emulator and port."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    source = next(b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "HTTPServer" in b)
    pasted = (
        "wxpay = WeChatPay(\n"
        "    wechatpay_type=WeChatPayType.MINIPROG,\n"
        f"    mchid={merchant.mchid!r},\n"
        f"    private_key=open({str(merchant.private_key_path)!r}).read(),\n"
        f"    cert_serial_no={merchant.serial_no!r},\n"
        f"    apiv3_key={merchant.apiv3_key!r},\n"
        f"    appid={merchant.appid!r},\n"
        f"    notify_url='http://127.0.0.1:{port}/notify',\n"
        f"    public_key=open({str(merchant.pub_key_path)!r}).read(),\n"
        f"    public_key_id={merchant.pub_key_id!r},\n"
        ")"
    )
    for old, new in [
        (re.compile(r"^wxpay = WeChatPay\(\.\.\.\).*$", re.M), pasted),
        (re.compile(re.escape("'http://127.0.0.1:8600'")), repr(emulator_url)),
        (re.compile(re.escape("('127.0.0.1', 9000)")), f"('127.0.0.1', {port})"),
    ]:
        source, count = old.subn(lambda _m, new=new: new, source)
        assert count == 1, f"README's receiver changed shape: {old.pattern!r} matched {count} times"
    return source


def wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"the receiver did not listen on {port} within {START_SECONDS} s")


def test_the_readme_receiver_passes_every_audit_check(wxpay_emulator: EmulatorClient, tmp_path: Path) -> None:
    merchant = wxpay_emulator.merchant()  # public key mode, as serve's default merchant
    port = free_port()
    script = tmp_path / "receiver.py"
    script.write_text(receiver_source(merchant, wxpay_emulator.url, port), encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tmp_path
    )
    try:
        wait_listening(port, process)
        report = wxpay_emulator.audit_notify(f"http://127.0.0.1:{port}/notify", merchant=merchant)
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    assert report.passed, (report.failed(), stderr.decode(errors="replace")[-2000:])
    assert len(report.checks) == 7

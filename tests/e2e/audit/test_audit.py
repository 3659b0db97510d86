"""``audit notify`` end to end: the example shop's handler (examples/merchant_app) passes every check,
its naive handler fails every "refused" one (CLI: exit status 1, a JUnit file read back here); APIv2
and cloud handlers; a real order's notification; bad requests.

The emulator is the pytest plugin's session server (``wxpay_emulator`` fixture).
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.pay import WeChatPay as WeChatPayV2

from tests.support.common import new_trade_no
from wxpay_emulator import server_file
from wxpay_emulator.audit import notify
from wxpay_emulator.audit import routes as audit_routes
from wxpay_emulator.client import EmulatedMerchant, EmulatorClient

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "merchant_app"
sys.path.insert(0, str(EXAMPLE))

from harness import RunningShop, serve_shop  # noqa: E402

V3_CHECKS = [
    "genuine_accepted",
    "forged_signature_refused",
    "unknown_serial_refused",
    "stale_timestamp_refused",
    "tampered_ciphertext_refused",
    "duplicate_acknowledged",
    "answered_within_5s",
]
V3_REFUSED = [name for name in V3_CHECKS if name.endswith("_refused")]


@pytest.fixture
def shop(wxpay_emulator: EmulatorClient) -> Iterator[RunningShop]:
    with serve_shop(wxpay_emulator.merchant()) as running:
        yield running


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wxpay_emulator", "audit", "notify", *args],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_cli_passes_the_example_handler(
    wxpay_emulator: EmulatorClient, shop: RunningShop, tmp_path: Path
) -> None:
    junit = tmp_path / "audit.xml"
    run = run_cli(shop.notify_url, "--url", wxpay_emulator.url, "--mchid", shop.merchant.mchid,
                  "--json", "--junit", str(junit))  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads(run.stdout)
    assert report["passed"] is True
    assert [c["name"] for c in report["checks"]] == V3_CHECKS
    assert all(c["passed"] and c["rule"] and c["expected"] and c["observed"] for c in report["checks"])
    suite = ET.parse(junit).getroot()
    assert suite.tag == "testsuite" and suite.get("tests") == "7" and suite.get("failures") == "0"
    # The genuine notification was processed exactly once, its duplicate acknowledged but not reapplied;
    # none of the refused probes reached the order book.
    assert list(shop.orders.times_processed.values()) == [1]


def test_cli_fails_the_naive_handler_on_every_refused_check(
    wxpay_emulator: EmulatorClient, shop: RunningShop, tmp_path: Path
) -> None:
    junit = tmp_path / "reports" / "audit.xml"
    run = run_cli(shop.naive_notify_url, "--url", wxpay_emulator.url, "--mchid", shop.merchant.mchid,
                  "--junit", str(junit))  # fmt: skip
    assert run.returncode == 1, run.stdout + run.stderr
    for name in V3_CHECKS:
        assert name in run.stdout  # the report card names every check
    suite = ET.parse(junit).getroot()
    assert suite.get("tests") == "7" and suite.get("failures") == str(len(V3_REFUSED))
    failed = {case.get("name") for case in suite.iter("testcase") if case.find("failure") is not None}
    assert failed == set(V3_REFUSED)
    for case in suite.iter("testcase"):
        failure = case.find("failure")
        if failure is not None:
            assert "refused" in (failure.get("message") or "") and "rule:" in (failure.text or "")


def test_cert_mode_merchant(wxpay_emulator: EmulatorClient) -> None:
    with serve_shop(wxpay_emulator.merchant(key_mode="cert")) as running:
        report = wxpay_emulator.audit_notify(running.notify_url, merchant=running.merchant)
        assert report.passed, report.to_json()
        naive = wxpay_emulator.audit_notify(running.naive_notify_url, merchant=running.merchant)
        assert sorted(naive.failed()) == sorted(V3_REFUSED)


def test_real_order_notification_and_no_trace_of_synthetic_ones(
    wxpay_emulator: EmulatorClient, shop: RunningShop
) -> None:
    m = shop.merchant
    wxpay = wxpay_emulator.wechatpayv3_client(m, notify_url=shop.notify_url)
    out_trade_no = new_trade_no("AUD")
    code, text = wxpay.pay(description="tea", out_trade_no=out_trade_no, amount={"total": 5},
                           payer={"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"})  # fmt: skip
    assert code == 200, text
    wxpay_emulator.pay(m, out_trade_no)
    delivered = wxpay_emulator.wait_for_notification(out_trade_no=out_trade_no)
    report = wxpay_emulator.audit_notify(shop.notify_url, merchant=m, out_trade_no=out_trade_no)
    assert report.passed, report.to_json()
    assert not report.synthetic and report.out_trade_no == out_trade_no
    assert shop.orders.times_processed[out_trade_no] == 1  # the real notice's id: a duplicate
    # Synthetic audits leave nothing behind: the merchant still has one order and one notification.
    synthetic = wxpay_emulator.audit_notify(shop.notify_url, merchant=m)
    assert synthetic.synthetic and synthetic.out_trade_no.startswith("AUDIT_")
    assert [o["transaction"]["out_trade_no"] for o in wxpay_emulator.orders(m)] == [out_trade_no]
    assert [n.id for n in wxpay_emulator.notifications(m)] == [delivered.id]


# --- APIv2 and cloud handlers ---------------------------------------------------------------------------


class Handler:
    """A handler on a loopback port whose answer ``answer(headers, body)`` decides."""

    def __init__(self, answer: Callable[[dict[str, str], bytes], tuple[int, str, bytes]]) -> None:
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, content_type, payload = outer.answer(dict(self.headers.items()), body)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.answer = answer
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/notify"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


V2_OK = b"<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>"
V2_FAIL = b"<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[sign]]></return_msg></xml>"


def wechatpy_handler(m: EmulatedMerchant) -> Handler:
    """An APIv2 handler done right with wechatpy: parse_payment_result checks the (MD5) sign."""
    client = WeChatPayV2(m.appid, m.api_key, m.mchid)

    def answer(_headers: dict[str, str], body: bytes) -> tuple[int, str, bytes]:
        try:
            client.parse_payment_result(body)
        except InvalidSignatureException:
            return 200, "text/xml", V2_FAIL
        return 200, "text/xml", V2_OK

    return Handler(answer)


def test_v2_handler_done_right_and_naive(wxpay_emulator: EmulatorClient) -> None:
    m = wxpay_emulator.merchant()
    right = wechatpy_handler(m)
    naive = Handler(lambda _h, _b: (200, "text/xml", V2_OK))
    try:
        report = wxpay_emulator.audit_notify(right.url, merchant=m, family="v2")
        assert [c.name for c in report.checks] == [
            "genuine_accepted", "wrong_sign_refused", "sign_type_mismatch_refused",
            "duplicate_acknowledged", "answered_within_5s",
        ]  # fmt: skip
        assert report.passed, report.to_json()
        bad = wxpay_emulator.audit_notify(naive.url, merchant=m, family="v2")
        assert sorted(bad.failed()) == ["sign_type_mismatch_refused", "wrong_sign_refused"]
    finally:
        right.close()
        naive.close()


def test_cloud_callbacks(wxpay_emulator: EmulatorClient) -> None:
    m = wxpay_emulator.merchant()
    right = Handler(lambda _h, _b: (200, "application/json", b'{"errcode": 0, "errmsg": "ok"}'))
    wrong = Handler(lambda _h, _b: (200, "application/json", b'{"errcode": -1}'))
    try:
        report = wxpay_emulator.audit_notify(right.url, merchant=m, family="cloud")
        assert [c.name for c in report.checks] == ["genuine_accepted", "duplicate_acknowledged",
                                                   "answered_within_5s"]  # fmt: skip
        assert report.passed, report.to_json()
        bad = wxpay_emulator.audit_notify(wrong.url, merchant=m, family="cloud")
        assert sorted(bad.failed()) == ["duplicate_acknowledged", "genuine_accepted"]
    finally:
        right.close()
        wrong.close()


# WeChat's 5 s, shortened for the slow-handler test: the audit waits that long for the slow answer.
SHORT_TIMEOUT = 1.5


@pytest.fixture
def short_audit_timeout(monkeypatch: pytest.MonkeyPatch) -> float:
    """The session server's ``POST /emulator/v1/audits`` audits with ``SHORT_TIMEOUT`` instead of the
    default (which stays WeChat's 5 s: checked here first)."""
    timeout = inspect.signature(notify.audit_notify).parameters["timeout"].default
    assert timeout == notify.TIMEOUT_SECONDS == 5.0
    assert audit_routes.audit_notify is notify.audit_notify  # the route gives no timeout of its own
    monkeypatch.setattr(
        audit_routes, "audit_notify", functools.partial(notify.audit_notify, timeout=SHORT_TIMEOUT)
    )
    return SHORT_TIMEOUT


def test_slow_handler_fails_the_timeout_check(
    wxpay_emulator: EmulatorClient, short_audit_timeout: float
) -> None:
    m = wxpay_emulator.merchant()
    stop = threading.Event()
    calls: list[int] = []

    def slow_once(_h: dict[str, str], _b: bytes) -> tuple[int, str, bytes]:
        calls.append(1)
        if len(calls) == 1:
            stop.wait(short_audit_timeout + 30)  # longer than the audit waits; ended by the test
        return 200, "application/json", b'{"errcode": 0}'

    handler = Handler(slow_once)
    try:
        report = wxpay_emulator.audit_notify(handler.url, merchant=m, family="cloud")
        assert report.check("answered_within_5s").passed is False
        assert "1 unanswered" in report.check("answered_within_5s").observed
        assert report.check("genuine_accepted").passed is False  # the timed-out answer counts for nothing
        assert report.check("duplicate_acknowledged").passed is True
    finally:
        stop.set()
        handler.close()


@pytest.mark.parametrize(("family", "status"), [("v3", 404), ("v3", 500), ("v2", 404), ("v2", 500)])
def test_a_handler_that_refuses_everything_proves_no_refusal(
    wxpay_emulator: EmulatorClient, family: str, status: int
) -> None:
    """A handler that answers every notice with 404 or 500 never acknowledged the genuine one: its
    "refusals" of the broken probes prove nothing, so every refused check fails, saying why."""
    m = wxpay_emulator.merchant()
    handler = Handler(lambda _h, _b: (status, "text/plain", b"nope"))
    try:
        report = wxpay_emulator.audit_notify(handler.url, merchant=m, family=family)
    finally:
        handler.close()
    refused = [c for c in report.checks if c.name.endswith("_refused")]
    assert len(refused) == (4 if family == "v3" else 2)
    assert report.check("genuine_accepted").passed is False
    for check in refused:
        assert check.passed is False, check
        assert check.observed.startswith("inconclusive: the genuine notification was not acknowledged")
        assert f"HTTP {status}" in check.observed
    assert not report.passed


def test_cli_finds_the_emulator_through_the_data_dirs_server_json(
    wxpay_emulator: EmulatorClient, shop: RunningShop, tmp_path: Path
) -> None:
    """Like every other command, ``audit notify`` without --url talks to the serve named by the data
    dir's server.json (not to a fixed http://127.0.0.1:8600)."""
    server_file.write(tmp_path, {"url": wxpay_emulator.url, "pid": os.getpid(), "port": 0})
    env = {
        k: v for k, v in os.environ.items() if k not in ("WXPAY_EMULATOR_URL", "WXPAY_EMULATOR_CONTROL_TOKEN")
    }
    env["WXPAY_EMULATOR_DATA_DIR"] = str(tmp_path)
    run = subprocess.run(
        [sys.executable, "-m", "wxpay_emulator", "audit", "notify", shop.notify_url,
         "--mchid", shop.merchant.mchid, "--json"],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert json.loads(run.stdout)["passed"] is True


def test_bad_requests(wxpay_emulator: EmulatorClient) -> None:
    m = wxpay_emulator.merchant()
    post = lambda body: httpx.post(wxpay_emulator.url + "/emulator/v1/audits", json=body, trust_env=False)  # noqa: E731
    answer = post({"url": "http://127.0.0.1:9/notify", "family": "v4"})
    assert answer.status_code == 400 and answer.json()["code"] == "PARAM_ERROR"
    answer = post({"url": "ftp://127.0.0.1/notify"})
    assert answer.status_code == 400
    answer = post({"url": "http://127.0.0.1:9/notify", "mchid": "1999999999"})
    assert answer.status_code == 404 and answer.json()["code"] == "MCH_NOT_EXISTS"
    answer = post({"url": "http://127.0.0.1:9/notify", "mchid": m.mchid, "out_trade_no": "NOPE_123456"})
    assert answer.status_code == 404 and answer.json()["code"] == "ORDER_NOT_EXIST"
    # An unreachable handler is a failed report (exit 1), not an error.
    report = wxpay_emulator.audit_notify("http://127.0.0.1:9/notify", merchant=m)
    assert report.check("genuine_accepted").passed is False
    assert "no answer" in report.check("genuine_accepted").observed
    run = run_cli("http://127.0.0.1:9/notify", "--url", "http://127.0.0.1:9")
    assert run.returncode == 2 and "cannot reach the emulator" in run.stdout + run.stderr


def test_the_example_shops_own_tests_pass(wxpay_emulator: EmulatorClient) -> None:
    """examples/merchant_app's tests, written with the plugin, run as a merchant would run them: by
    ``pytest`` in a process of their own. They use this session's emulator (the plugin's documented
    ``--wxpay-emulator-url``) rather than start one: the plugin starting its own server in a merchant's
    project is tests/e2e/plugin/test_plugin_venv.py's test."""
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE),
         "--wxpay-emulator-url", wxpay_emulator.url],
        capture_output=True, text=True, timeout=600, cwd=EXAMPLE.parents[1],
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "4 passed" in run.stdout, run.stdout

"""The dashboard's notify-handler audit in process: the form posts to the audit engine, which probes a
real handler on a loopback port, and the page shows the report card; bad input is shown on the form."""

from __future__ import annotations

import html
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.unit.journal.test_journal import MCHID, Harness, make_harness


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    yield from make_harness(tmp_path_factory.mktemp("dashboard-audit"))


@pytest.fixture(scope="module")
def naive_handler() -> Iterator[str]:
    """Acknowledges every POST without checking anything: the "0元购" handler."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/notify"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def checks_of(page: str) -> dict[str, bool]:
    rows = re.findall(r'<tr data-check="([a-z0-9_]+)" data-passed="(true|false)">', page)
    return {name: passed == "true" for name, passed in rows}


def test_the_form_lists_the_merchants(emu: Harness) -> None:
    page = emu.request("GET", "/dashboard/audit")
    assert page.status_code == 200 and 'id="audit-form"' in page.text
    assert f'<option value="{MCHID}"' in page.text and 'href="/dashboard/audit"' in page.text


def test_a_naive_handler_fails_every_refused_check(emu: Harness, naive_handler: str) -> None:
    form = {"url": naive_handler, "mchid": MCHID, "family": "v3", "out_trade_no": "", "sign_type": ""}
    page = emu.request("POST", "/dashboard/audit", data=form)
    assert page.status_code == 200, page.text
    assert re.search(r'id="audit-verdict">FAILED<', page.text)
    checks = checks_of(page.text)
    assert checks["genuine_accepted"] is True and checks["duplicate_acknowledged"] is True
    refused = [name for name in checks if name.endswith("_refused")]
    assert set(refused) == {
        "forged_signature_refused",
        "unknown_serial_refused",
        "stale_timestamp_refused",
        "tampered_ciphertext_refused",
    }
    assert not any(checks[name] for name in refused)
    assert html.escape(naive_handler) in page.text


def test_the_v2_audit_from_the_form(emu: Harness, naive_handler: str) -> None:
    form = {"url": naive_handler, "mchid": MCHID, "family": "v2", "sign_type": "HMAC-SHA256"}
    page = emu.request("POST", "/dashboard/audit", data=form)
    assert page.status_code == 200
    checks = checks_of(page.text)
    # the naive handler answers "{}", not WeChat's SUCCESS XML: even the genuine notice is not acknowledged
    assert checks["genuine_accepted"] is False
    assert "wrong_sign_refused" in checks and "sign_type_mismatch_refused" in checks


@pytest.mark.parametrize(
    ("form", "says"),
    [
        ({"url": "ftp://127.0.0.1/notify", "family": "v3"}, "url"),
        ({"url": "http://127.0.0.1:9/notify", "family": "v9"}, "family"),
        ({"url": "http://127.0.0.1:9/notify", "mchid": "1234567890123"}, "MCH_NOT_EXISTS"),
        (
            {"url": "http://127.0.0.1:9/notify", "mchid": MCHID, "out_trade_no": "NOSUCHORDER"},
            "ORDER_NOT_EXIST",
        ),
    ],
)
def test_bad_input_is_shown_on_the_form(emu: Harness, form: dict[str, str], says: str) -> None:
    page = emu.request("POST", "/dashboard/audit", data=form)
    assert page.status_code == 400
    problem = re.search(r'id="audit-problem">(.*?)</p>', page.text, re.S)
    assert problem is not None and says in html.unescape(problem.group(1)), problem
    assert 'id="report"' not in page.text

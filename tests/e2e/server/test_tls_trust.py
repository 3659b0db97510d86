"""``serve --tls``: /secapi/ requires the merchant's own API certificate, and (issue 10 item 5) the
server trusts, at each handshake, every merchant the store holds then: the cloud provider made at first
start and a merchant created while the server runs, without a restart. wechatpy calls
``/secapi/pay/refund`` with each merchant's own API certificate.

One TLS process serves the module (a start costs seconds): each test uses merchants of its own.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from wechatpy.exceptions import WeChatPayException
from wechatpy.pay import WeChatPay as WeChatPayV2

from tests.support.common import DEFAULT_MCHID, FAST_NOTIFY, new_trade_no
from wxpay_emulator.domain.cloud_pay import PROVIDER_MCHID
from wxpay_emulator.testing import EmulatorProcess, run_emulator


@pytest.fixture(scope="module")
def process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    """A fresh store in TLS mode: its merchants are the ones made at first start."""
    with run_emulator(tmp_path_factory.mktemp("tls"), env=FAST_NOTIFY, tls=True) as started:
        yield started


def v2_client(
    process: EmulatorProcess, m: dict[str, Any], cert_of: dict[str, Any] | None = None, *, cert: bool = True
) -> WeChatPayV2:
    """wechatpy over HTTPS (trusting the emulator's certificate); with the API certificate of
    ``cert_of`` (default: the merchant's own), or none when ``cert`` is false."""
    owner = Path((cert_of or m)["folder"])
    files: dict[str, str] = {}
    if cert:
        files = {"mch_cert": str(owner / "apiclient_cert.pem"), "mch_key": str(owner / "apiclient_key.pem")}
    client = WeChatPayV2(m["appid"], m["api_key"], m["mchid"], timeout=10, **files)
    client.API_BASE_URL = process.url + "/"
    # requests lets REQUESTS_CA_BUNDLE win over Session.verify unless trust_env is off.
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


def test_secapi_requires_the_merchant_certificate_in_tls_mode(process: EmulatorProcess) -> None:
    m = process.merchant(DEFAULT_MCHID)
    bare = v2_client(process, m, cert=False)
    with_cert = v2_client(process, m)
    out_trade_no = paid(process, bare)
    with pytest.raises(WeChatPayException) as refused:
        bare.refund.apply(100, 10, "C" + out_trade_no, out_trade_no=out_trade_no)
    assert refused.value.return_code == "FAIL" and refused.value.errcode == "CERT_ERROR"
    assert (
        with_cert.refund.apply(100, 10, "C" + out_trade_no, out_trade_no=out_trade_no)["result_code"]
        == "SUCCESS"
    )


def test_tls_trusts_merchants_made_at_first_start_and_while_running(process: EmulatorProcess) -> None:
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


def test_stopping_does_not_wait_for_idle_tls_connections(process: EmulatorProcess) -> None:
    """Last in the module: the wechatpy sessions above and one more client hold idle keep-alive TLS
    connections; the server closes them at once instead of waiting for their close_notify (which an
    idle client never sends) until its graceful-shutdown timeout (5 s)."""
    with httpx.Client(**process.http_options()) as idle:
        assert idle.get(process.url + "/emulator/v1/health").status_code == 200
        started = time.monotonic()
        process.stop()
        stopped_in = time.monotonic() - started
    assert stopped_in < 3.0, f"stopping took {stopped_in:.1f} s: {process.log()[-3000:]}"
    assert "Traceback" not in process.log(), process.log()


def _closed_by_server(sock: ssl.SSLSocket, within: float) -> bool:
    """Whether the server ends this connection (EOF, close_notify or reset) within ``within`` seconds;
    what it sends before that (an answer) is read and dropped."""
    sock.settimeout(0.5)
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if sock.recv(4096) == b"":
                return True
        except TimeoutError:
            continue
        except OSError:  # ssl.SSLError and ConnectionResetError are OSErrors
            return True
    return False


def test_stopping_after_a_keep_alive_ran_out_closes_that_connection_too(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """A keep-alive that ran out closes an idle TLS connection (and aborts it: the client never sends
    close_notify). Stopping then must not close that transport a second time: on Python 3.11 that
    dropped its protocol, the shutdown raised, and the lifespan's shutdown never ran. A loaded machine
    gets there in the module above: a test's idle sessions outlive the 5 s keep-alive."""
    env = {**FAST_NOTIFY, "WXPAY_EMULATOR_KEEP_ALIVE_SECONDS": "1"}
    with run_emulator(tmp_path_factory.mktemp("keepalive"), env=env, tls=True) as process:
        url = urlsplit(process.url)
        context = ssl.create_default_context(cafile=str(process.server_certificate))
        raw = socket.create_connection((url.hostname, url.port), timeout=5)
        with context.wrap_socket(raw, server_hostname=url.hostname) as old:
            old.sendall(f"GET /emulator/v1/health HTTP/1.1\r\nHost: {url.netloc}\r\n\r\n".encode())
            # the answer, then the end the keep-alive puts to the connection (never close_notify'd back)
            assert _closed_by_server(old, within=10.0), "the 1 s keep-alive never closed the connection"
            with httpx.Client(**process.http_options()) as idle:
                assert idle.get(process.url + "/emulator/v1/health").status_code == 200
                started = time.monotonic()
                process.stop()
                stopped_in = time.monotonic() - started
        log = process.log()
    assert "Traceback" not in log, log
    assert stopped_in < 3.0, f"stopping took {stopped_in:.1f} s: {log[-3000:]}"

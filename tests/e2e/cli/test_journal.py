"""The journal, serve's log lines, ``tail`` and the control-plane CLI against a running server.

Every CLI call here finds the emulator through the data dir's server.json (no --url), as a user's would.
One emulator process serves the module; the commands run in process (tests/support/cli.py) except
those that prove the real entry point: ``--version`` by the console script, ``tail`` and ``serve``
(a port in use, ``--quiet``) by ``python -m wxpay_emulator``.
"""

from __future__ import annotations

import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from tests.support.cli import CliRun, run_cli
from tests.support.common import DEFAULT_MCHID, WAIT_SECONDS, new_trade_no, poll
from tests.support.emulator import Emu
from tests.support.receiver import Receiver
from tests.support.v3 import V3Api
from wxpay_emulator import server_file
from wxpay_emulator.api.v2 import wire
from wxpay_emulator.crypto import v2_sign
from wxpay_emulator.testing import EmulatorProcess, free_port, run_emulator


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WXPAY_EMULATOR_")}
    env["WXPAY_EMULATOR_DATA_DIR"] = str(data_dir)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def cli(emu: Emu, *args: str, stdin: str | None = None) -> CliRun:
    """``wxpay-emulator ARGS`` in process, with only the emulator's data dir in its environment."""
    return run_cli(*args, env={"WXPAY_EMULATOR_DATA_DIR": str(emu.process.data_dir)}, stdin=stdin)


def cli_json(emu: Emu, *args: str) -> Any:
    done = cli(emu, *args, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def merchant(emulator_process: EmulatorProcess) -> dict[str, Any]:
    return emulator_process.merchant(DEFAULT_MCHID)


@pytest.fixture
def api(v3api: Callable[[dict[str, Any]], V3Api], merchant: dict[str, Any]) -> V3Api:
    return v3api(merchant)


def place(api: V3Api, receiver: Receiver) -> str:
    out_trade_no = new_trade_no("JRN")
    response = api.request("POST", "/v3/pay/transactions/jsapi", api.prepay_body(out_trade_no, receiver.url))
    assert response.status_code == 200, response.text
    return out_trade_no


def v2_orderquery(emu: Emu, merchant: dict[str, Any], key: str) -> None:
    params = {
        "appid": merchant["appid"],
        "mch_id": merchant["mchid"],
        "nonce_str": "n1",
        "out_trade_no": "X1",
    }
    params["sign"] = v2_sign.sign(params, key)
    emu.http.post(emu.url + "/pay/orderquery", content=wire.render(params))


class Lines:
    """A subprocess's output lines, read by a thread, taken with a deadline."""

    def __init__(self, stream: IO[str]) -> None:
        self._queue: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self._queue.put(line.rstrip("\n"))

    def join(self) -> None:
        self._thread.join(10)

    def wait_for(self, matches: Callable[[str], bool], what: str, timeout: float = WAIT_SECONDS) -> str:
        deadline = time.monotonic() + timeout
        for _ in range(100_000):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                line = self._queue.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                continue
            self.seen.append(line)
            if matches(line):
                return line
        raise AssertionError(f"no line with {what} within {timeout}s; saw {self.seen!r}")


@pytest.fixture
def run_tail(emu: Emu) -> Iterator[Callable[..., tuple[Lines, Lines]]]:
    """run_tail(*args): start ``python -m wxpay_emulator tail ARGS`` (stdout, stderr lines); wait for
    its "Ready!" with ``ready``. Several start together, so their start-ups overlap."""
    started: list[tuple[subprocess.Popen[str], Lines, Lines]] = []

    def start(*args: str) -> tuple[Lines, Lines]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "wxpay_emulator", "tail", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(emu.process.data_dir),
        )
        assert proc.stdout is not None and proc.stderr is not None
        out, err = Lines(proc.stdout), Lines(proc.stderr)
        started.append((proc, out, err))
        return out, err

    yield start
    for proc, out, err in started:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        out.join()
        err.join()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def ready(err: Lines) -> None:
    err.wait_for(lambda line: line.startswith("Ready!"), "Ready!", timeout=60)


def test_server_json_names_the_running_emulator(emu: Emu) -> None:
    info = server_file.read(emu.process.data_dir)
    assert info is not None and info["url"] == emu.url and info["port"] == emu.process.port
    script = Path(sys.executable).parent / "wxpay-emulator"  # the console script pyproject.toml declares
    assert script.exists(), f"no {script}: install the project (pip install -e .) in this environment"
    version = subprocess.run(
        [str(script), "--version"], capture_output=True, text=True, env=_env(emu.process.data_dir), timeout=60
    )
    assert version.returncode == 0 and version.stdout.startswith("wxpay-emulator "), version
    assert cli(emu, "--version").stdout == version.stdout


def test_tail_shows_requests_and_deliveries_and_json_filters_by_family(
    emu: Emu,
    api: V3Api,
    merchant: dict[str, Any],
    receiver: Receiver,
    run_tail: Callable[..., tuple[Lines, Lines]],
) -> None:
    (out, out_err), (v2_only, v2_err) = run_tail(), run_tail("--json", "--family", "v2")
    ready(out_err)
    ready(v2_err)
    out_trade_no = place(api, receiver)
    line = out.wait_for(lambda s: "/v3/pay/transactions/jsapi" in s, "the jsapi call")
    assert "POST" in line and "  200  " in line and f"mchid={DEFAULT_MCHID}" in line
    api.request("GET", f"/v3/pay/transactions/out-trade-no/{out_trade_no}?mchid={DEFAULT_MCHID}", timestamp=1)
    stale = out.wait_for(lambda s: "SIGN_ERROR" in s, "the stale call")
    assert "401" in stale and "sign: timestamp outside ±300 s" in stale
    assert emu.pay(mchid=DEFAULT_MCHID, out_trade_no=out_trade_no).status_code == 200
    delivery = out.wait_for(lambda s: "notify" in s and receiver.url in s, "the delivery")
    assert "  200  " in delivery and "delivered" in delivery
    # --json --family v2 saw all of the above go by and printed none of it: its first line is this call.
    api.request("GET", f"/v3/pay/transactions/out-trade-no/NOPE0001?mchid={DEFAULT_MCHID}")
    v2_orderquery(emu, merchant, "0" * 32)
    line = v2_only.wait_for(lambda s: s.startswith("{"), "a JSON line")
    event = json.loads(line)
    assert event["type"] == "request" and event["family"] == "v2" and event["code"] == "SIGNERROR"
    assert event["sign_check"]["reason"] == "sign does not match (MD5 with the API key)"
    assert event["sign_check"]["expected_message"].endswith("&key=***")
    assert all(json.loads(s)["family"] == "v2" for s in v2_only.seen)


def test_serve_logs_a_line_per_request_and_delivery(emu: Emu, api: V3Api, receiver: Receiver) -> None:
    out_trade_no = place(api, receiver)
    api.request("GET", f"/v3/pay/transactions/out-trade-no/{out_trade_no}?mchid={DEFAULT_MCHID}", timestamp=1)
    emu.pay(mchid=DEFAULT_MCHID, out_trade_no=out_trade_no)
    receiver.wait_for(1)

    def log_has(*needles: str) -> Callable[[str], bool]:
        return lambda text: any(all(n in line for n in needles) for line in text.splitlines())

    poll(emu.process.log, log_has("v3", "POST /v3/pay/transactions/jsapi", "200", "ms"), "the jsapi line")
    poll(emu.process.log, log_has("401", "SIGN_ERROR", "sign: timestamp outside ±300 s"), "the stale line")
    poll(emu.process.log, log_has("notify", receiver.url, "200", "delivered"), "the delivery line")
    assert "INFO:" not in emu.process.log()  # uvicorn's access log stays off


def test_cli_requests(emu: Emu, api: V3Api) -> None:
    api.request("GET", f"/v3/pay/transactions/out-trade-no/NOPE0002?mchid={DEFAULT_MCHID}", timestamp=1)
    page = cli_json(emu, "requests")
    entry = page["data"][0]
    assert entry["code"] == "SIGN_ERROR" and entry["sign_check"]["reason"].startswith("timestamp outside")
    table = cli(emu, "requests", "--family", "v3")
    assert table.returncode == 0 and "SIGN_ERROR" in table.stdout and "timestamp outside" in table.stdout
    assert "/v3/pay/transactions/out-trade-no/NOPE0002?mchid=1900000001" in table.stdout  # not cut
    shown = cli(emu, "requests", str(entry["id"]))
    assert shown.returncode == 0 and "the string the emulator verified" in shown.stdout
    assert repr(entry["sign_check"]["expected_message"]) in shown.stdout
    assert cli(emu, "requests", "999999").returncode == 1
    assert cli(emu, "requests", "--status", "teapot").returncode == 1


def test_cli_notifications_list_show_redeliver(emu: Emu, api: V3Api, receiver: Receiver) -> None:
    out_trade_no = place(api, receiver)
    emu.pay(mchid=DEFAULT_MCHID, out_trade_no=out_trade_no)
    receiver.wait_for(1)
    listed = cli_json(emu, "notifications", "list")["data"]
    notification_id = listed[0]["id"]
    poll(
        lambda: cli_json(emu, "notifications", "list")["data"][0]["status"],
        lambda status: status == "DELIVERED",
        "the notification delivered",
    )
    table = cli(emu, "notifications", "list")
    assert notification_id in table.stdout and "DELIVERED" in table.stdout
    shown = cli_json(emu, "notifications", "show", notification_id)
    assert shown["decrypted"]["out_trade_no"] == out_trade_no and shown["deliveries"]
    text = cli(emu, "notifications", "show", notification_id)
    assert "decrypted resource" in text.stdout and out_trade_no in text.stdout
    redelivered = cli(emu, "notifications", "redeliver", notification_id)
    assert redelivered.returncode == 0, redelivered.stdout
    receiver.wait_for(2)
    assert cli(emu, "notifications", "show", "NOPE").returncode == 1


def test_cli_clock_reset_and_faults(emu: Emu, api: V3Api, receiver: Receiver) -> None:
    assert cli_json(emu, "clock", "show")["offset_seconds"] == 0
    advanced = cli(emu, "clock", "advance", "90")
    assert advanced.returncode == 0 and "offset 90 s" in advanced.stdout
    assert cli_json(emu, "clock", "show")["offset_seconds"] == 90
    armed = cli(emu, "faults", "arm", "pay.prepay", "SYSTEM_ERROR", "--count", "2")
    assert armed.returncode == 0 and "pay.prepay" in armed.stdout
    assert cli_json(emu, "faults", "list") == {"pending": {"pay.prepay": ["SYSTEM_ERROR", "SYSTEM_ERROR"]}}
    failed = api.request("POST", "/v3/pay/transactions/jsapi", api.prepay_body("FAULT0001", receiver.url))
    assert (failed.status_code, failed.json().get("code")) == (500, "SYSTEM_ERROR"), failed.text
    assert cli(emu, "faults", "clear").returncode == 0
    assert cli_json(emu, "faults", "list") == {"pending": {}}
    assert cli(emu, "faults", "arm", "pay.nothing", "SYSTEM_ERROR").returncode == 1
    place(api, receiver)
    refused = cli(emu, "reset", stdin="n\n")
    assert refused.returncode == 1 and emu.orders()
    done = cli(emu, "reset", "--yes")
    assert done.returncode == 0 and emu.orders() == []
    assert cli_json(emu, "clock", "show")["offset_seconds"] == 0
    assert cli_json(emu, "requests")["data"] == []


def test_cli_close_and_refund_notify_url(emu: Emu, api: V3Api, receiver: Receiver) -> None:
    unpaid = place(api, receiver)
    closed = cli(emu, "close", unpaid)
    assert closed.returncode == 0, closed.stdout
    assert json.loads(closed.stdout)["transaction"]["trade_state"] == "CLOSED"
    assert cli(emu, "close", "NOSUCH0001").returncode == 1
    paid = place(api, receiver)
    emu.pay(mchid=DEFAULT_MCHID, out_trade_no=paid)
    receiver.wait_for(1)
    refunds = Receiver()
    try:
        done = cli(emu, "refund", paid, "--amount", "30", "--notify-url", refunds.url)
        assert done.returncode == 0, done.stdout
        assert json.loads(done.stdout)["notify_url"] == refunds.url
        cli(emu, "clock", "advance", "61")  # the refund succeeds after its delay (60 s), then notifies
        notice = refunds.wait_for(1)[0]
        assert json.loads(notice.body)["event_type"] == "REFUND.SUCCESS"
    finally:
        refunds.close()


def test_server_file_ignores_a_stale_pid(tmp_path: Path) -> None:
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead = int(finished.stdout)
    server_file.write(tmp_path, {"url": "http://127.0.0.1:1", "pid": dead})
    assert server_file.read(tmp_path) is None
    server_file.write(tmp_path, {"url": "http://127.0.0.1:1", "pid": os.getpid()})
    assert server_file.read(tmp_path) == {"url": "http://127.0.0.1:1", "pid": os.getpid()}


def test_a_port_in_use_is_reported_before_the_banner(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "wxpay_emulator",
                "serve",
                "--port",
                str(port),
                "--data-dir",
                str(tmp_path),
            ],
            capture_output=True,
            text=True,
            env=_env(tmp_path),
            timeout=60,
            check=False,
        )
    output = done.stdout + done.stderr
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in output and "WXPAY_EMULATOR_PORT" in output
    assert "wxpay-emulator 0" not in output and not (tmp_path / "server.json").exists()


def test_quiet_serve_logs_no_request(tmp_path: Path) -> None:
    with run_emulator(tmp_path, port=free_port(), env={"WXPAY_EMULATOR_QUIET": "1"}) as quiet:
        response = quiet.merchant()  # a control-plane call
        assert response["mchid"]
        httpx.post(quiet.url + "/pay/orderquery", content=b"<xml></xml>", trust_env=False)
        info = server_file.read(tmp_path)
        assert info is not None and info["url"] == quiet.url
        log = quiet.log()
    assert "/pay/orderquery" not in log and "--quiet" in log
    assert (
        poll(lambda: (tmp_path / "server.json").exists(), lambda exists: not exists, "server.json removed")
        is False
    )

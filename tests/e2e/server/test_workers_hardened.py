"""``serve --workers 2 --tls`` keeps every protection of serving.py in each worker: the control token
generated once by the parent and required alike by both workers, the head timeout, and the TLS trust
of merchants created while the server runs.

Which worker answers a connection is read from /proc: the worker holding the server side of the TCP
connection (its socket inode) is the one serving it. Connections are opened until both workers have
been seen (bounded), and every check runs on a connection of each worker.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from wxpay_emulator import testing
from wxpay_emulator.crypto import v2_sign
from wxpay_emulator.testing import EmulatorProcess, run_emulator

ATTEMPTS = 200


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    env = {
        "WXPAY_EMULATOR_WORKERS": "2",
        "WXPAY_EMULATOR_REQUIRE_TOKEN": "1",
        "WXPAY_EMULATOR_HEAD_TIMEOUT_SECONDS": "1",
    }
    saved = testing.STARTUP_TIMEOUT
    testing.STARTUP_TIMEOUT = 150.0  # three interpreters import the app on a loaded machine
    try:
        with run_emulator(tmp_path_factory.mktemp("workers"), env=env, tls=True) as process:
            yield process
    finally:
        testing.STARTUP_TIMEOUT = saved


def workers_of(process: EmulatorProcess) -> list[int]:
    assert process.proc is not None
    pid = process.proc.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(c) for c in children if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]


def wait_for_workers(process: EmulatorProcess, count: int) -> list[int]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = workers_of(process)
        if len(found) == count:
            return found
        time.sleep(0.2)
    raise AssertionError(f"workers: {workers_of(process)}")


def server_inode(server_port: int, client_port: int) -> str | None:
    """Inode of the server side of 127.0.0.1:client_port -> 127.0.0.1:server_port (/proc/net/tcp)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = fields[1], fields[2]
        if int(local.split(":")[1], 16) == server_port and int(remote.split(":")[1], 16) == client_port:
            return fields[9]
    return None


def owner_of(pids: list[int], inode: str) -> int | None:
    target = f"socket:[{inode}]"
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) == target:
                    return pid
            except OSError:
                continue
    return None


def tls_context(process: EmulatorProcess, cert: tuple[Path, Path] | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(process.server_certificate))
    if cert is not None:
        context.load_cert_chain(str(cert[0]), str(cert[1]))
    return context


def connection_per_worker(
    process: EmulatorProcess, pids: list[int], context: ssl.SSLContext
) -> Iterator[tuple[int, ssl.SSLSocket, float]]:
    """One TLS connection served by each worker, with the moment it was opened, handed out as soon as
    its worker is known: the server's head deadline (1 s from the opening) runs while the connections
    to the other workers are still being looked for. The caller closes each one."""
    found: set[int] = set()
    for _ in range(ATTEMPTS):
        opened = time.monotonic()
        raw = socket.create_connection(("127.0.0.1", process.port), timeout=15)
        sock = context.wrap_socket(raw, server_hostname="127.0.0.1")
        owner = None
        deadline = time.monotonic() + 5
        while owner is None and time.monotonic() < deadline:
            inode = server_inode(process.port, sock.getsockname()[1])
            owner = owner_of(pids, inode) if inode else None
            if owner is None:
                time.sleep(0.02)
        if owner is None or owner in found:
            sock.close()
            continue
        found.add(owner)
        yield owner, sock, opened
        if len(found) == len(pids):
            return
    raise AssertionError(f"connections reached only workers {sorted(found)} of {pids}")


def exchange(sock: ssl.SSLSocket, request: bytes) -> tuple[int, bytes]:
    sock.sendall(request)
    data = b""
    deadline = time.monotonic() + 15
    while b"\r\n\r\n" not in data and time.monotonic() < deadline:
        piece = sock.recv(65536)
        if not piece:
            break
        data += piece
    head, _, body = data.partition(b"\r\n\r\n")
    match = re.search(rb"content-length: (\d+)", head, re.IGNORECASE)
    length = int(match.group(1)) if match else 0
    while len(body) < length and time.monotonic() < deadline:
        body += sock.recv(65536)
    return int(head.split()[1]), body


def signed_xml(merchant: dict[str, Any], **given: str) -> bytes:
    fields = {"appid": merchant["appid"], "mch_id": merchant["mchid"], "nonce_str": secrets.token_hex(8)}
    fields.update(given)
    fields["sign"] = v2_sign.sign(fields, merchant["api_key"])
    return ("<xml>" + "".join(f"<{k}>{v}</{k}>" for k, v in fields.items()) + "</xml>").encode()


def get(path: str, token: str | None = None) -> bytes:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}\r\n".encode()


def test_every_worker_requires_the_one_token_times_out_heads_and_trusts_new_merchants(
    server: EmulatorProcess,
) -> None:
    found = re.findall(r"control token \(generated for this run\): (\S+)", server.log())
    assert len(found) == 1, server.log()
    token = found[0]
    pids = wait_for_workers(server, 2)
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(verify=tls_context(server), trust_env=False, headers=auth, timeout=30) as http:
        created = http.post(server.url + "/emulator/v1/merchants", json={"key_mode": "pubkey"})
        assert created.status_code == 201, created.text
        merchant = created.json()
        folder = Path(merchant["files"]["apiclient_cert.pem"]).parent
        refunds: list[str] = []
        for i in range(2):  # paid orders to refund, one per worker
            out_trade_no = f"WK{secrets.token_hex(6).upper()}{i}"
            placed = http.post(
                server.url + "/pay/unifiedorder",
                content=signed_xml(
                    merchant,
                    body="workers",
                    out_trade_no=out_trade_no,
                    total_fee="100",
                    spbill_create_ip="127.0.0.1",
                    notify_url="http://127.0.0.1:9/n",
                    trade_type="APP",
                ),
            )
            assert b"<result_code><![CDATA[SUCCESS]]>" in placed.content, placed.text
            paid = http.post(
                server.url + "/emulator/v1/payments",
                json={"mchid": merchant["mchid"], "out_trade_no": out_trade_no},
            )
            assert paid.status_code == 200, paid.text
            refunds.append(out_trade_no)

    # the control token: the same one in every worker
    for pid, sock, _ in connection_per_worker(server, pids, tls_context(server)):
        with sock:
            assert exchange(sock, get("/emulator/v1/merchants"))[0] == 401, pid
            assert exchange(sock, get("/emulator/v1/merchants", token))[0] == 200, pid

    # the head timeout (1 s from the opening): a connection whose head never ends is cut by every worker
    for pid, sock, opened in connection_per_worker(server, pids, tls_context(server)):
        with sock:
            try:
                sock.sendall(b"GET /emulator/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                closed = sock.recv(1024) == b""
            except TimeoutError:  # still open after the socket's 15 s: no head timeout
                closed = False
            except (ssl.SSLError, OSError):  # already closed by the server
                closed = True
            assert closed and 0.5 < time.monotonic() - opened < 8, pid

    # TLS trust: the merchant created after start is trusted on /secapi/ by every worker
    cert = (folder / "apiclient_cert.pem", folder / "apiclient_key.pem")
    for (pid, sock, _), out_trade_no in zip(
        connection_per_worker(server, pids, tls_context(server, cert)), refunds, strict=True
    ):
        body = signed_xml(
            merchant,
            out_trade_no=out_trade_no,
            out_refund_no="R" + out_trade_no,
            total_fee="100",
            refund_fee="10",
        )
        request = (
            b"POST /secapi/pay/refund HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        with sock:
            status, answer = exchange(sock, request)
        assert status == 200 and b"<result_code><![CDATA[SUCCESS]]>" in answer, (pid, answer)
    assert "Traceback" not in server.log()

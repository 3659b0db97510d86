"""Issue 10 item 9 end to end: 100 MB bodies (made lazily, never held by the test) are refused early
in the family's shape and the server's memory does not grow; idle and slow connections are closed.

RSS is the server process's VmRSS from /proc; the figures are printed (run with -s to see them)."""

from __future__ import annotations

import secrets
import select
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from wxpay_emulator.crypto import rsa_sign
from wxpay_emulator.testing import EmulatorProcess, run_emulator

MB = 1024 * 1024
TOTAL = 100 * MB
CHUNK = b"x" * (256 * 1024)
MAX_GROWTH = 50 * MB


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    env = {"WXPAY_EMULATOR_HEAD_TIMEOUT_SECONDS": "1", "WXPAY_EMULATOR_KEEP_ALIVE_SECONDS": "1"}
    with run_emulator(tmp_path_factory.mktemp("limits"), env=env) as process:
        yield process


def rss(process: EmulatorProcess) -> int:
    assert process.proc is not None
    for line in Path(f"/proc/{process.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def read_answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    deadline = time.monotonic() + 15
    while b"\r\n\r\n" not in data and time.monotonic() < deadline:
        piece = sock.recv(65536)
        if not piece:
            break
        data += piece
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length and time.monotonic() < deadline:
        piece = sock.recv(65536)
        if not piece:
            break
        body += piece
    return status, headers, body


def send_huge(port: int, path: str, headers: dict[str, str], chunked: bool) -> tuple[int, bytes, int]:
    """POST a 100 MB body made chunk by chunk; stop sending as soon as an answer is readable.
    Returns (status, body, bytes of body sent before the answer)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=15)
    try:
        framing = {"Transfer-Encoding": "chunked"} if chunked else {"Content-Length": str(TOTAL)}
        head = "".join(f"{k}: {v}\r\n" for k, v in {"Host": "127.0.0.1", **headers, **framing}.items())
        sock.sendall(f"POST {path} HTTP/1.1\r\n{head}\r\n".encode())
        sent = 0
        for _ in range(TOTAL // len(CHUNK)):
            if select.select([sock], [], [], 0)[0]:
                break
            piece = f"{len(CHUNK):x}\r\n".encode() + CHUNK + b"\r\n" if chunked else CHUNK
            try:
                sock.sendall(piece)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(CHUNK)
        status, _, body = read_answer(sock)
        return status, body, sent
    finally:
        sock.close()


def v3_headers(process: EmulatorProcess) -> dict[str, str]:
    """An Authorization APIv3 gets as far as reading the body with (its signature is checked after)."""
    m = process.merchant()
    auth = (
        f'{rsa_sign.AUTH_SCHEME} mchid="{m["mchid"]}",nonce_str="{secrets.token_hex(8)}",'
        f'timestamp="{int(time.time())}",serial_no="{m["serial_no"]}",signature="AAAA"'
    )
    return {"Content-Type": "application/json", "Accept": "application/json", "Authorization": auth}


def test_100_mb_bodies_are_refused_early_and_memory_stays_flat(server: EmulatorProcess) -> None:
    v2 = {"Content-Type": "text/xml"}
    before = rss(server)
    for chunked in (False, True):
        status, body, sent = send_huge(server.port, "/pay/unifiedorder", v2, chunked)
        assert status == 200 and b"XML_FORMAT_ERROR" in body and b"65536" in body, body
        assert b"<return_code><![CDATA[FAIL]]></return_code>" in body
        assert sent < 20 * MB, sent
        status, body, sent = send_huge(
            server.port, "/v3/pay/transactions/native", v3_headers(server), chunked
        )
        assert status == 400 and b'"code":"PARAM_ERROR"' in body and b"1048576" in body, body
        assert sent < 20 * MB, sent
        status, body, sent = send_huge(
            server.port, "/_/pay/unifiedorder", {"Content-Type": "application/json"}, chunked
        )
        assert b'"errcode":-1' in body and b"262144" in body, body
        status, body, sent = send_huge(
            server.port, "/emulator/v1/merchants", {"Content-Type": "application/json"}, chunked
        )
        assert status == 413 and b"REQUEST_TOO_LARGE" in body, body
    # four at once, streamed without a length
    results: list[tuple[int, bytes, int]] = []
    threads = [
        threading.Thread(target=lambda: results.append(send_huge(server.port, "/pay/unifiedorder", v2, True)))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 4 and all(b"XML_FORMAT_ERROR" in body for _, body, _ in results)
    after = rss(server)
    print(f"\nserver RSS before {before / MB:.1f} MB, after 12 x 100 MB refused bodies {after / MB:.1f} MB")
    assert after - before < MAX_GROWTH, (before, after)
    assert "Traceback" not in server.log()


def test_an_idle_or_slow_connection_is_closed(server: EmulatorProcess) -> None:
    """Head timeout 1 s here (the setting): a silent socket and a trickled head are both closed."""
    # Both opened at once, so their timeouts run together; each is timed from its own opening.
    openings = (b"", b"GET /emulator/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    socks: list[tuple[socket.socket, float]] = []
    try:
        for opening in openings:
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            socks.append((sock, time.monotonic()))
            if opening:
                sock.sendall(opening)  # the head never ends
        open_for: dict[int, float] = {}  # index -> seconds from its opening to its close
        deadline = time.monotonic() + 10
        for _ in range(40):  # at most 0.5 s each, and 10 s in all
            if len(open_for) == len(socks) or time.monotonic() >= deadline:
                break
            waiting = [sock for i, (sock, _) in enumerate(socks) if i not in open_for]
            for sock in select.select(waiting, [], [], 0.5)[0]:
                i = next(i for i, (s, _) in enumerate(socks) if s is sock)
                open_for[i] = time.monotonic() - socks[i][1]
                assert sock.recv(1024) == b""  # closed by the server
        assert len(open_for) == len(socks), open_for
        assert all(0.5 < seconds < 8 for seconds in open_for.values()), open_for
    finally:
        for sock, _ in socks:
            sock.close()
    # a complete request still works, and the connection is kept alive between requests
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        for _ in range(2):
            sock.sendall(b"GET /emulator/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            status, _, _ = read_answer(sock)
            assert status == 200
    finally:
        sock.close()

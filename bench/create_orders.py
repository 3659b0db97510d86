"""Throughput and latency of signed APIv3 JSAPI creates, against a "signed echo" baseline.

    .venv/bin/python bench/create_orders.py [--requests 1000] [--seconds 20] [--concurrency 8]
                                            [--warmup 50] [--rounds 4] [--database-url postgresql://...]

Starts the real emulator (``wxpay_emulator.testing.run_emulator``, a temporary data dir, SQLite unless
``--database-url``) and ``bench/echo_app.py`` (same FastAPI + uvicorn stack, one process, verifying the
request signature and signing a fixed answer, but no domain or store). Both are driven over loopback by
the same client (``--concurrency`` threads sharing one synchronous ``httpx.Client``):
``POST /v3/pay/transactions/jsapi`` signed with the merchant's key, a unique ``out_trade_no`` and
``payer.openid`` per request, all requests signed before the clock starts (so signing costs the same
for both targets and nothing inside the timed window). After a warm-up of each, the targets take
turns, ``--rounds`` slices of their requests each, so that other load on the machine falls on both.
Every answer must be 200 with a valid ``Wechatpay-Signature`` (checked after the clock stops); any
failure is printed and makes the exit status 1.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from wxpay_emulator.crypto import CryptoError, rsa_sign
from wxpay_emulator.testing import free_port, run_emulator

PATH = "/v3/pay/transactions/jsapi"
AUTH_SCHEME = "WECHATPAY2-SHA256-RSA2048"
STARTUP_SECONDS = 30.0
REQUEST_TIMEOUT = 10.0
# Both targets' warm-ups and runs (4 x --seconds at most) must fit in the 5-minute timestamp window of
# requests signed before the first of them starts.
MAX_SECONDS = 60
MAX_FAILURES_SHOWN = 10
ECHO_APP = Path(__file__).resolve().with_name("echo_app.py")


@dataclass
class Merchant:
    mchid: str
    appid: str
    serial_no: str
    private_key: rsa.RSAPrivateKey


@dataclass
class Target:
    name: str
    url: str
    pid: int
    response_key_pem: bytes  # verifies the Wechatpay-Signature of its answers


@dataclass
class Tally:
    """What one target's requests of one kind (warm-up or timed) came to, summed over rounds."""

    latencies: list[float] = field(default_factory=list)  # seconds, successful or not
    responses: list[httpx.Response] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0
    client_cpu: float = 0.0
    server_cpu: float = 0.0
    capped: bool = False


# --- requests -------------------------------------------------------------------------------------------


def sign_requests(client: httpx.Client, merchant: Merchant, count: int, tag: str) -> list[httpx.Request]:
    """``count`` ready-to-send JSAPI creates, each with its own out_trade_no, openid, nonce and signature."""
    requests: list[httpx.Request] = []
    for i in range(count):
        payload = {
            "appid": merchant.appid,
            "mchid": merchant.mchid,
            "description": "bench order",
            "out_trade_no": f"B{tag}{i:07d}",  # B + 12 hex + W0/T1 + 7 digits = 22 of [0-9A-Za-z]
            "notify_url": "https://127.0.0.1/notify",
            "amount": {"total": 1 + i % 1000, "currency": "CNY"},
            "payer": {"openid": f"oBench{tag}{i:07d}"},
        }
        body = json.dumps(payload, separators=(",", ":")).encode()
        timestamp = str(int(time.time()))
        nonce = secrets.token_hex(16).upper()
        message = rsa_sign.request_message("POST", PATH, timestamp, nonce, body)
        signature = base64.b64encode(
            merchant.private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        ).decode()
        authorization = (
            f'{AUTH_SCHEME} mchid="{merchant.mchid}",nonce_str="{nonce}",signature="{signature}",'
            f'timestamp="{timestamp}",serial_no="{merchant.serial_no}"'
        )
        headers = {
            "Authorization": authorization,
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        requests.append(client.build_request("POST", PATH, content=body, headers=headers))
    return requests


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of a process from /proc (Linux); NaN where that is not available."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def drive(
    client: httpx.Client,
    requests: list[httpx.Request],
    concurrency: int,
    seconds: float,
    pid: int,
    tally: Tally,
) -> None:
    """Send ``requests`` from ``concurrency`` threads into ``tally``; stop early once ``seconds`` have passed.

    Threads over a synchronous httpx client cost the client about half the CPU per request of asyncio
    over ``httpx.AsyncClient`` (anyio + httpcore's async path), which matters on a 2-core machine.
    """
    pending = iter(requests)
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def worker() -> None:
        for _ in range(len(requests)):
            with lock:
                request = next(pending, None)
                if request is None:
                    return
                if time.perf_counter() >= deadline:
                    tally.capped = True
                    return
            start = time.perf_counter()
            try:
                response = client.send(request)
            except httpx.HTTPError as exc:
                tally.latencies.append(time.perf_counter() - start)
                tally.failures.append(f"{type(exc).__name__}: {exc!r}")
                continue
            tally.latencies.append(time.perf_counter() - start)
            tally.responses.append(response)

    threads = [threading.Thread(target=worker, name=f"bench-{i}", daemon=True) for i in range(concurrency)]
    cpu0, server0, t0 = time.process_time(), process_cpu_seconds(pid), time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        # Each request is bounded by REQUEST_TIMEOUT, so this join is bounded too; the margin is generous.
        thread.join(seconds + REQUEST_TIMEOUT * 2)
    tally.seconds += time.perf_counter() - t0
    tally.client_cpu += time.process_time() - cpu0
    tally.server_cpu += process_cpu_seconds(pid) - server0
    if any(thread.is_alive() for thread in threads):
        tally.failures.append("a client thread did not finish in time")


def check_responses(tally: Tally, response_key_pem: bytes) -> None:
    """Every answer: 200, a prepay_id, and a Wechatpay-Signature that verifies. Done off the clock."""
    for response in tally.responses:
        if response.status_code != 200:
            tally.failures.append(f"HTTP {response.status_code}: {response.text[:300]}")
            continue
        headers = response.headers
        try:
            message = rsa_sign.response_message(
                headers["Wechatpay-Timestamp"], headers["Wechatpay-Nonce"], response.content
            )
            rsa_sign.verify(response_key_pem, message, headers["Wechatpay-Signature"])
            if headers["Wechatpay-Signature-Type"] != AUTH_SCHEME or "prepay_id" not in response.json():
                raise CryptoError("no Wechatpay-Signature-Type or no prepay_id")
        except (KeyError, ValueError, CryptoError) as exc:
            tally.failures.append(f"HTTP 200 with a bad answer ({exc!r}): {response.text[:300]}")


def chunks(items: list[httpx.Request], parts: int) -> list[list[httpx.Request]]:
    size = math.ceil(len(items) / parts)
    return [items[i : i + size] for i in range(0, len(items), size)]


def bench(
    targets: list[Target], merchant: Merchant, args: argparse.Namespace
) -> dict[str, tuple[Tally, Tally]]:
    """Warm every target up, then alternate between them round by round (ABBA order).

    Interleaving spreads whatever else the machine is doing over both targets alike, so that the
    ratio stays meaningful on a shared 2-core box; each target's figures are summed over its rounds.
    """
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    clients = {
        t.name: httpx.Client(base_url=t.url, trust_env=False, limits=limits, timeout=REQUEST_TIMEOUT)
        for t in targets
    }
    tallies = {t.name: (Tally(), Tally()) for t in targets}
    try:
        tag = secrets.token_hex(6)  # unique across runs too, for a PostgreSQL store that outlives them
        warm: dict[str, list[httpx.Request]] = {}
        rounds: dict[str, list[list[httpx.Request]]] = {}
        for n, t in enumerate(targets):
            client = clients[t.name]
            warm[t.name] = sign_requests(client, merchant, args.warmup, f"{tag}W{n}")
            rounds[t.name] = chunks(sign_requests(client, merchant, args.requests, f"{tag}T{n}"), args.rounds)
        for t in targets:
            drive(clients[t.name], warm[t.name], args.concurrency, args.seconds, t.pid, tallies[t.name][0])
        for r in range(args.rounds):
            for t in targets if r % 2 == 0 else targets[::-1]:
                tally = tallies[t.name][1]
                left = args.seconds - tally.seconds
                if r >= len(rounds[t.name]):
                    continue
                if left <= 0:
                    tally.capped = True
                    continue
                drive(clients[t.name], rounds[t.name][r], args.concurrency, left, t.pid, tally)
    finally:
        for client in clients.values():
            client.close()
    for t in targets:
        for tally in tallies[t.name]:
            check_responses(tally, t.response_key_pem)
    return tallies


# --- servers --------------------------------------------------------------------------------------------


@contextmanager
def run_echo(data_dir: Path, cert_path: Path, serial_no: str) -> Iterator[Target]:
    """bench/echo_app.py as a subprocess on a free loopback port, started the way the emulator is."""
    port = free_port()
    pubkey = data_dir / "echo_pub.pem"
    log_path = data_dir / "echo.log"
    cmd = [sys.executable, str(ECHO_APP), "--port", str(port), "--cert", str(cert_path),
           "--serial", serial_no, "--pubkey-out", str(pubkey)]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"echo server exited with {proc.returncode}: {log_path.read_text()}")
            try:
                if httpx.get(url + "/emulator/v1/health", timeout=1, trust_env=False).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() >= deadline:
                raise RuntimeError(f"echo server did not start within {STARTUP_SECONDS}s")
            time.sleep(0.1)
        yield Target("echo", url, proc.pid, pubkey.read_bytes())
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


# --- report ---------------------------------------------------------------------------------------------


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def rate(tally: Tally) -> float:
    return len(tally.latencies) / tally.seconds if tally.seconds > 0 else math.nan


def report(results: dict[str, tuple[Tally, Tally]], args: argparse.Namespace) -> int:
    print(
        f"concurrency {args.concurrency}, {args.rounds} interleaved rounds, warm-up {args.warmup} per target "
        f"(excluded), cap {args.seconds:g}s per target"
    )
    print(f"{'target':<10}{'requests':>10}{'seconds':>10}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    for name, (_, run) in results.items():
        lat = sorted(run.latencies)
        print(
            f"{name:<10}{len(lat):>10}{run.seconds:>10.2f}{rate(run):>10.1f}"
            f"{percentile(lat, 50) * 1000:>10.2f}{percentile(lat, 99) * 1000:>10.2f}"
            + ("  (stopped by --seconds)" if run.capped else "")
        )
    ratio = rate(results["emulator"][1]) / rate(results["echo"][1])
    print(f"ratio (emulator/echo) = {ratio:.2f}")
    for name, (_, run) in results.items():
        done = max(len(run.latencies), 1)
        print(
            f"  {name}: cpu per request: server {run.server_cpu / done * 1000:.2f} ms, "
            f"client {run.client_cpu / done * 1000:.2f} ms"
        )
    failures = 0
    for name, tallies in results.items():
        for label, tally in zip(("warm-up", "run"), tallies, strict=True):
            failures += len(tally.failures)
            for failure in tally.failures[:MAX_FAILURES_SHOWN]:
                print(f"FAIL {name} {label}: {failure}")
            if len(tally.failures) > MAX_FAILURES_SHOWN:
                print(f"FAIL {name} {label}: ... and {len(tally.failures) - MAX_FAILURES_SHOWN} more")
    print(f"failures: {failures}")
    return 1 if failures else 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000, help="timed requests per target")
    parser.add_argument("--seconds", type=float, default=20.0, help="time cap per target (and per warm-up)")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight")
    parser.add_argument("--warmup", type=int, default=50, help="untimed requests per target first")
    parser.add_argument("--rounds", type=int, default=4, help="alternate the targets this many times")
    parser.add_argument("--database-url", help="e.g. postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args(argv)
    if min(args.requests, args.concurrency, args.rounds) < 1 or args.warmup < 0:
        parser.error("--requests, --concurrency and --rounds must be positive, --warmup not negative")
    if not 0 < args.seconds <= MAX_SECONDS:
        parser.error(f"--seconds must be in (0, {MAX_SECONDS}]: requests are signed before the clock starts")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="wxpay-bench-") as tmp:
        data_dir = Path(tmp)
        with run_emulator(data_dir / "emulator", database_url=args.database_url) as emu:
            info: dict[str, Any] = emu.merchant()
            key = serialization.load_pem_private_key(info["apiclient_key.pem"].encode(), password=None)
            if not isinstance(key, rsa.RSAPrivateKey) or emu.proc is None:
                raise RuntimeError("the merchant's apiclient_key.pem is not an RSA key")
            merchant = Merchant(info["mchid"], info["appid"], info["serial_no"], key)
            platform_pem = info["pub_key.pem" if info["key_mode"] == "pubkey" else "wechatpay_cert.pem"]
            emulator = Target("emulator", emu.url, emu.proc.pid, platform_pem.encode())
            cert_path = Path(info["folder"]) / "apiclient_cert.pem"
            load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
            print(
                f"emulator {emu.url} (store: {args.database_url or 'SQLite'}), merchant {merchant.mchid}; "
                f"load average before: {load}"
            )
            with run_echo(data_dir, cert_path, merchant.serial_no) as echo:
                results = bench([echo, emulator], merchant, args)
    return report(results, args)


if __name__ == "__main__":
    sys.exit(main())

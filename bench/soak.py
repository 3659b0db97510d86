"""Soak and cold start: the server's RSS as its store grows, and its time to the first answer.

    .venv/bin/python bench/soak.py [--orders 1000000] [--batch 20000] [--requests 200]

A real ``serve`` process on a fresh SQLite data dir. The bench grows the store in batches of
``--batch`` orders (bulk INSERTs straight into the database, as a long-lived shared emulator accumulates
them; driving a million signed creates over HTTP would take hours here), and after each batch sends
``--requests`` control-plane requests (pages of ``/orders`` and ``/notifications``, ``/clock``,
``/health``) and samples the server's RSS (``/proc/<pid>/status``). Printed: RSS every batch, and the
growth over the second half (flat = a few MB).

Cold start, after the soak: the server is stopped and started again on the grown data dir; time from
process start to the first answered ``/emulator/v1/health``, best of 3. Baseline, same run: the same
for bench/echo_app.py (the FastAPI + uvicorn stack without domain or store). Loopback only, bounded.
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import insert

from wxpay_emulator.app import build_domain, open_store
from wxpay_emulator.config import Settings
from wxpay_emulator.domain.models import KeyMode
from wxpay_emulator.storage.tables import orders
from wxpay_emulator.testing import EmulatorProcess, free_port

ECHO_APP = Path(__file__).resolve().with_name("echo_app.py")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def grow(settings: Settings, mchid: str, appid: str, start: int, count: int) -> None:
    store = open_store(settings)
    now = dt.datetime.now(dt.UTC)
    rows = [
        {
            "mchid": mchid,
            "appid": appid,
            "out_trade_no": f"SOAK{start + i:012d}",
            "trade_type": "NATIVE",
            "family": "v3",
            "description": "soak",
            "total": 1,
            "currency": "CNY",
            "notify_url": "http://127.0.0.1:1/n",
            "extras": "{}",
            "fingerprint": "soak",
            "state": "NOTPAY",
            "created_at": now,
            "updated_at": now,
        }
        for i in range(count)
    ]
    with store.transaction() as conn:
        conn.execute(insert(orders), rows)
    store.dispose()


def exercise(http: httpx.Client, url: str, requests: int) -> None:
    paths = ["/emulator/v1/orders?limit=50", "/emulator/v1/notifications?limit=50"]
    paths += ["/emulator/v1/clock", "/emulator/v1/health"]
    for i in range(requests):
        response = http.get(url + paths[i % len(paths)])
        assert response.status_code == 200, response.text
    page = http.get(url + "/emulator/v1/orders", params={"limit": 100}).json()
    if page["next"]:  # and one page deep into the history
        assert http.get(url + "/emulator/v1/orders", params={"cursor": page["next"]}).status_code == 200


def first_answer(cmd: list[str], url: str) -> float:
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(3000):
            try:
                if httpx.get(url, timeout=1, trust_env=False).status_code == 200:
                    return time.perf_counter() - started
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                raise RuntimeError(f"{cmd} exited with {proc.returncode}")
            time.sleep(0.005)
        raise RuntimeError("no answer within the deadline")
    finally:
        proc.terminate()
        proc.wait(10)


def cold_start(data_dir: Path, workdir: Path) -> None:
    port = free_port()
    serve = [
        sys.executable,
        "-m",
        "wxpay_emulator",
        "serve",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
    ]
    health = f"http://127.0.0.1:{port}/emulator/v1/health"
    merchant = data_dir / "merchants" / "1900000001"
    echo_port = free_port()
    echo = [sys.executable, str(ECHO_APP), "--port", str(echo_port), "--cert"]
    echo += [str(merchant / "apiclient_cert.pem"), "--serial", "00", "--pubkey-out", str(workdir / "e.pem")]
    emulator = min(first_answer(serve, health) for _ in range(3))
    baseline = min(first_answer(echo, f"http://127.0.0.1:{echo_port}/emulator/v1/health") for _ in range(3))
    print("cold start (process start to first answered /emulator/v1/health, best of 3):")
    print(f"  signed echo (baseline): {baseline:6.2f} s")
    print(f"  emulator, grown store:  {emulator:6.2f} s   ratio {emulator / baseline:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wxpay-bench-soak-") as tmp:
        workdir = Path(tmp)
        data_dir = workdir / "data"
        settings = Settings(data_dir=data_dir)
        store = open_store(settings)
        merchant = build_domain(store, settings).merchants.create("1900000001", None, KeyMode.PUBKEY)
        store.dispose()
        process = EmulatorProcess(data_dir)
        process.start()
        samples: list[tuple[int, float]] = []
        try:
            assert process.proc is not None
            pid = process.proc.pid
            with httpx.Client(trust_env=False, timeout=60) as http:
                exercise(http, process.url, args.requests)
                samples.append((0, rss_mb(pid)))
                print(f"soak: RSS of the serve process as the store grows ({args.orders} orders)")
                print(f"  {0:>9} orders: {samples[-1][1]:7.1f} MB")
                grown = 0
                while grown < args.orders:
                    count = min(args.batch, args.orders - grown)
                    grow(settings, merchant.mchid, merchant.appid, grown, count)
                    grown += count
                    exercise(http, process.url, args.requests)
                    samples.append((grown, rss_mb(pid)))
                    print(f"  {grown:>9} orders: {samples[-1][1]:7.1f} MB", flush=True)
        finally:
            process.stop()
        half = samples[len(samples) // 2][1]
        peak = max(r for _, r in samples)
        print(f"  peak {peak:.1f} MB; growth over the second half {samples[-1][1] - half:+.1f} MB")
        cold_start(data_dir, workdir)


if __name__ == "__main__":
    main()

"""Notification delivery: throughput to a fast receiver, and latency beside hanging merchants.

    .venv/bin/python bench/notifications.py [--due 10000] [--rate 500] [--seconds 8] [--hanging 40]

1. Throughput. 10,000 due APIv3 notifications (real rows in a fresh SQLite store: one paid order's
   notification copied under new ids) are delivered by the emulator's own dispatcher, in this process,
   to bench/notify_receiver.py (another process, answering 200 at once). Baseline, same run, same
   receiver: a bare ``httpx.AsyncClient`` POSTing the same body 10,000 times, 64 at a time (no store,
   no signing): the ceiling of the HTTP client stack. Printed: deliveries/s and the ratio.
2. Latency. A real ``serve`` process; orders placed beforehand, then paid through the control plane
   at a steady ``--rate`` per second for ``--seconds``. Latency is the receiver's arrival time minus
   the notification's ``created_at`` (written in the paying transaction). Baseline: the same run with
   no hanging endpoint; then again with ``--hanging`` endpoints (each its own port, accepting and never
   answering) that receive every 10th payment's notification. Printed: p50/p99/max of the others.

Loopback only; every wait is bounded; the receiver stops by itself after a deadline.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import httpx

from wxpay_emulator.app import build_domain, open_store
from wxpay_emulator.config import Settings
from wxpay_emulator.domain.models import KeyMode, Notification, OrderDraft, PaymentResult
from wxpay_emulator.domain.services import Domain
from wxpay_emulator.notify.dispatcher import Dispatcher
from wxpay_emulator.storage.db import Store
from wxpay_emulator.storage.repositories import NotificationRepo
from wxpay_emulator.testing import free_port, run_emulator

RECEIVER = Path(__file__).resolve().with_name("notify_receiver.py")
DEADLINE = 300.0


def draft(mchid: str, appid: str, out_trade_no: str, url: str) -> OrderDraft:
    return OrderDraft(
        mchid=mchid,
        appid=appid,
        out_trade_no=out_trade_no,
        trade_type="NATIVE",
        description="bench",
        total=1,
        currency="CNY",
        notify_url=url,
        family="v3",
    )


class ReceiverProcess:
    def __init__(self, workdir: Path, hang_ports: list[int]) -> None:
        self.port = free_port()
        self.out = workdir / f"arrivals-{self.port}.json"
        cmd = [sys.executable, str(RECEIVER), "--port", str(self.port), "--out", str(self.out)]
        cmd += ["--seconds", str(DEADLINE), "--hang", ",".join(map(str, hang_ports))]
        self.proc = subprocess.Popen(cmd)
        self.url = f"http://127.0.0.1:{self.port}"
        # One client for every poll: a fresh httpx.get() builds an SSL context each time, tens of ms of
        # CPU here, taken from the dispatcher under measurement (it holds the GIL) ten times a second.
        self.client = httpx.Client(timeout=10, trust_env=False)
        for _ in range(600):  # a loaded machine can take a while to start an interpreter
            try:
                self.client.get(self.url + "/count", timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("receiver did not start")

    def count(self) -> int:
        return int(self.client.get(self.url + "/count").text)

    def arrivals(self) -> dict[str, float]:
        self.client.get(self.url + "/dump")
        data = json.loads(self.out.read_text())
        return {i: t for i, t in data["arrivals"]}

    def stop(self) -> None:
        self.client.close()
        self.proc.terminate()
        self.proc.wait(10)


def seed_due(store: Store, domain: Domain, mchid: str, appid: str, url: str, count: int) -> str:
    """``count`` due notifications: one real one, copied under fresh ids. Returns the body."""
    order = domain.orders.place(draft(mchid, appid, "BENCHSEED01", url))
    domain.orders.pay(result=PaymentResult.SUCCESS, prepay_id=order.prepay_id)
    [(first, _)] = domain.notifications.list(mchid)
    with store.transaction() as conn:
        repo = NotificationRepo(conn)
        for _ in range(count - 1):
            repo.add(replace(first, id=domain.ids.notification_id()))
    return first.body


async def baseline_posts(url: str, body: str, count: int, concurrency: int = 64) -> float:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=5, trust_env=False, limits=limits) as client:
        queue = iter(range(count))

        async def worker() -> None:
            for _ in queue:
                response = await client.post(url, content=body.encode())
                assert response.status_code == 200

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return count / (time.perf_counter() - started)


async def dispatch_all(domain: Domain, receiver: ReceiverProcess, count: int) -> float:
    dispatcher = Dispatcher(domain, 5.0, 0.2)
    started = time.perf_counter()
    await dispatcher.start()
    try:
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            done = await asyncio.to_thread(receiver.count)
            if done >= count:
                break
        elapsed = time.perf_counter() - started
    finally:
        await dispatcher.stop()
    return count / elapsed


def throughput(workdir: Path, due: int) -> None:
    receiver = ReceiverProcess(workdir, [])
    try:
        settings = Settings(data_dir=workdir / "throughput")
        store = open_store(settings)
        domain = build_domain(store, settings)
        m = domain.merchants.create(None, None, KeyMode.PUBKEY)
        url = receiver.url + "/notify"
        body = seed_due(store, domain, m.mchid, m.appid, url, due)
        base = asyncio.run(baseline_posts(url, body, due))
        got = asyncio.run(dispatch_all(domain, receiver, due + due))  # the baseline's posts count too
        pending = len(domain.notifications.due(10))
        store.dispose()
    finally:
        receiver.stop()
    print(f"throughput: {due} due notifications, one process, SQLite")
    print(f"  baseline (bare httpx, 64 concurrent, no store, no signing): {base:8.0f} POST/s")
    print(f"  emulator dispatcher:                                         {got:8.0f} deliveries/s")
    print(f"  ratio to baseline: {got / base:.2f}   (still due after the run: {pending})")


def percentiles(values: list[float]) -> str:
    if not values:
        return "no samples"
    values = sorted(values)

    def at(q: float) -> float:
        return values[min(len(values) - 1, int(q * len(values)))]

    return f"p50 {at(0.5):7.1f} ms  p99 {at(0.99):7.1f} ms  max {values[-1]:7.1f} ms  (n={len(values)})"


async def pay_steadily(base_url: str, mchid: str, trade_nos: list[str], rate: float) -> float:
    """POST /emulator/v1/payments for each order at ``rate`` per second; returns the achieved rate."""
    timeout = httpx.Timeout(30, pool=None)  # payments queue for a connection rather than fail
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(timeout=timeout, limits=limits, trust_env=False) as client:
        started = time.perf_counter()
        tasks = []
        for i, out_trade_no in enumerate(trade_nos):
            delay = started + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            body = {"mchid": mchid, "out_trade_no": out_trade_no, "result": "SUCCESS"}
            tasks.append(asyncio.create_task(client.post(base_url + "/emulator/v1/payments", json=body)))
        answers = await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - started
    bad = [a.status_code for a in answers if a.status_code != 200]
    assert not bad, bad[:5]
    return len(trade_nos) / elapsed


def latency_phase(workdir: Path, name: str, rate: float, seconds: float, hanging: int) -> list[float]:
    hang_ports = [free_port() for _ in range(hanging)]
    receiver = ReceiverProcess(workdir, hang_ports)
    data_dir = workdir / name
    try:
        settings = Settings(data_dir=data_dir)
        store = open_store(settings)
        domain = build_domain(store, settings)
        m = domain.merchants.create(None, None, KeyMode.PUBKEY)
        total = int(rate * seconds)
        trade_nos = []
        for i in range(total):
            if hanging and i % 10 == 0:
                url = f"http://127.0.0.1:{hang_ports[(i // 10) % hanging]}/hang"
            else:
                url = receiver.url + "/notify"
            trade_nos.append(f"LAT{name}{i:07d}"[:32])
            domain.orders.place(draft(m.mchid, m.appid, trade_nos[-1], url))
        store.dispose()
        with run_emulator(data_dir) as emu:
            achieved = asyncio.run(pay_steadily(emu.url, m.mchid, trade_nos, rate))
            good = sum(1 for i in range(total) if not (hanging and i % 10 == 0))
            deadline = time.monotonic() + 60
            while receiver.count() < good and time.monotonic() < deadline:
                time.sleep(0.2)
            arrivals = receiver.arrivals()
    finally:
        receiver.stop()
    # created_at to the microsecond (the control plane prints whole seconds): read from the store.
    store = open_store(settings)
    with store.read() as conn:
        rows: list[Notification] = NotificationRepo(conn).recent(None, total + 10)
    store.dispose()
    latencies = [(arrivals[n.id] - n.created_at.timestamp()) * 1000 for n in rows if n.id in arrivals]
    got = f"delivered {len(latencies)}/{good}"
    print(f"  {name:>12}: paid at {achieved:5.0f}/s, {got}: {percentiles(latencies)}")
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--hanging", type=int, default=40)
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-latency", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wxpay-bench-notify-") as tmp:
        workdir = Path(tmp)
        if not args.skip_throughput:
            throughput(workdir, args.due)
        if not args.skip_latency:
            print(f"latency, payment to delivery, one serve process, SQLite, {args.rate:.0f} payments/s:")
            base = latency_phase(workdir, "no-hanging", args.rate, args.seconds, 0)
            hung = latency_phase(workdir, f"{args.hanging}-hanging", args.rate, args.seconds, args.hanging)
            if base and hung:
                p99 = sorted(hung)[int(0.99 * len(hung))] / sorted(base)[int(0.99 * len(base))]
                print(f"  p99 ratio with hanging endpoints to without: {p99:.2f}")


if __name__ == "__main__":
    main()

"""Two emulator processes on one fresh PostgreSQL database, started at the same moment, are one
emulator: each notification reaches the merchant exactly once, and the business clock and armed faults
are the same through either process (docs/scale-out.md)."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from wechatpayv3 import WeChatPayType

from tests.support.common import DEFAULT_MCHID, poll
from tests.support.postgres import fresh_postgres_database
from tests.support.receiver import Receiver
from tests.support.sdk import build_wxpay
from wxpay_emulator import testing
from wxpay_emulator.testing import EmulatorProcess

ORDERS = 300  # the figure, for the PostgreSQL test
SQLITE_ORDERS = 30


@contextmanager
def started_together(*processes: EmulatorProcess) -> Iterator[None]:
    """Start every process at the same moment (a fresh store: they race to migrate and seed it)."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(processes))

    def start(process: EmulatorProcess) -> None:
        barrier.wait(10)
        try:
            process.start()
        except BaseException as exc:  # reported below, with the other processes stopped too
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(p,)) for p in processes]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    try:
        assert not errors, errors
        yield
    finally:
        for p in processes:
            p.stop()


@pytest.fixture
def pair(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[EmulatorProcess, EmulatorProcess]]:
    """Two processes (two "hosts": their own data dirs) on one new database, started together."""
    monkeypatch.setattr(testing, "STARTUP_TIMEOUT", 150.0)  # two imports at once on a loaded machine
    with fresh_postgres_database("wxpay_scale") as name:
        url = f"postgresql://postgres@127.0.0.1:5432/{name}"
        a, b = (EmulatorProcess(tmp_path / f"host{i}", database_url=url) for i in (1, 2))
        with started_together(a, b):
            yield a, b


def test_workers_and_processes_on_one_sqlite_file(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``serve --workers 2`` and another ``serve`` on one fresh SQLite data dir, started together:
    seeded once, and each notification delivered once."""
    # Four interpreters import the app at once: on a loaded 2-core machine that alone can take 40 s.
    monkeypatch.setattr(testing, "STARTUP_TIMEOUT", 150.0)
    a = EmulatorProcess(tmp_path, env={"WXPAY_EMULATOR_WORKERS": "2"})
    b = EmulatorProcess(tmp_path)
    with started_together(a, b), httpx.Client(trust_env=False, timeout=30) as http:
        listed = http.get(b.url + "/emulator/v1/merchants").json()["data"]
        assert sorted(m["mchid"] for m in listed) == sorted([DEFAULT_MCHID, "1800780001"])
        merchant = a.merchant(DEFAULT_MCHID)
        clients = [build_wxpay(p.url, merchant, receiver.url) for p in (a, b)]

        def one(i: int) -> None:
            code, text = clients[i % 2].pay(
                description="多进程",
                out_trade_no=f"SQLITE{i:04d}",
                amount={"total": 1},
                pay_type=WeChatPayType.APP,
            )
            assert code == 200, text
            paid = http.post(  # paid through the other process
                (b, a)[i % 2].url + "/emulator/v1/payments",
                json={"mchid": DEFAULT_MCHID, "out_trade_no": f"SQLITE{i:04d}", "result": "SUCCESS"},
            )
            assert paid.status_code == 200, paid.text

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(one, range(SQLITE_ORDERS)))
        receiver.wait_for(SQLITE_ORDERS, timeout=30)
        time.sleep(1.0)  # a duplicate would be sent by now
        ids = Counter(json.loads(r.body)["id"] for r in receiver.requests)
        assert len(ids) == SQLITE_ORDERS and set(ids.values()) == {1}, ids.most_common(3)
        assert not receiver.stray
        # Each was attempted once, by one process, and acknowledged.
        # The receiver has the last request before its attempt is recorded: wait for the records.
        page: dict[str, Any] = poll(
            lambda: http.get(a.url + "/emulator/v1/notifications", params={"limit": 1000}).json(),
            lambda p: all(n["status"] == "DELIVERED" for n in p["data"]),
            "every attempt recorded",
        )
        assert len(page["data"]) == SQLITE_ORDERS and page["next"] is None
        assert {(n["status"], len(n["deliveries"])) for n in page["data"]} == {("DELIVERED", 1)}


def test_two_processes_on_one_database_are_one_emulator(
    pair: tuple[EmulatorProcess, EmulatorProcess], receiver: Receiver
) -> None:
    a, b = pair
    merchant = a.merchant(DEFAULT_MCHID)
    assert b.merchant(DEFAULT_MCHID)["serial_no"] == merchant["serial_no"]  # seeded once, seen by both
    clients = [build_wxpay(p.url, merchant, receiver.url) for p in pair]
    http = httpx.Client(trust_env=False, timeout=30)

    def one(i: int) -> str:
        process, client = pair[i % 2], clients[i % 2]
        out_trade_no = f"SCALE{i:05d}"
        code, text = client.pay(
            description="横向扩展", out_trade_no=out_trade_no, amount={"total": 1}, pay_type=WeChatPayType.APP
        )
        assert code == 200, text
        payer = pair[(i + 1) % 2]  # paid through the other process
        paid = http.post(
            payer.url + "/emulator/v1/payments",
            json={"mchid": merchant["mchid"], "out_trade_no": out_trade_no, "result": "SUCCESS"},
        )
        assert paid.status_code == 200, paid.text
        assert process is not payer
        return out_trade_no

    with ThreadPoolExecutor(4) as pool:
        placed = list(pool.map(one, range(ORDERS)))
    assert len(set(placed)) == ORDERS
    receiver.wait_for(ORDERS, timeout=60)
    time.sleep(1.0)  # a duplicate would be sent by now: both processes poll every 0.2 s
    ids = Counter(json.loads(r.body)["id"] for r in receiver.requests)
    assert len(ids) == ORDERS and set(ids.values()) == {1}, ids.most_common(3)
    assert not receiver.stray
    # Each was attempted once, by one process, and acknowledged.
    # The receiver has the last request before its attempt is recorded: wait for the records.
    page: dict[str, Any] = poll(
        lambda: http.get(b.url + "/emulator/v1/notifications", params={"limit": 1000}).json(),
        lambda p: all(n["status"] == "DELIVERED" for n in p["data"]),
        "every attempt recorded",
    )
    assert len(page["data"]) == ORDERS and page["next"] is None
    assert {(n["status"], len(n["deliveries"])) for n in page["data"]} == {("DELIVERED", 1)}

    # The business clock: advanced through one process, the same through the other at once.
    moved = http.post(a.url + "/emulator/v1/clock", json={"advance_seconds": 3600})
    assert moved.status_code == 200, moved.text
    assert http.get(b.url + "/emulator/v1/clock").json()["offset_seconds"] == 3600

    # Faults: armed through one process, seen and taken through the other, once.
    armed = http.post(a.url + "/emulator/v1/faults", json={"operation": "pay.query", "code": "SYSTEM_ERROR"})
    assert armed.status_code == 201, armed.text
    assert http.get(b.url + "/emulator/v1/faults").json()["pending"] == {"pay.query": ["SYSTEM_ERROR"]}
    code, text = clients[1].query(out_trade_no=placed[0])
    assert code == 500 and json.loads(text)["code"] == "SYSTEM_ERROR"
    assert http.get(a.url + "/emulator/v1/faults").json()["pending"] == {}
    code, text = clients[0].query(out_trade_no=placed[0])
    assert code == 200 and json.loads(text)["trade_state"] == "SUCCESS"
    http.close()

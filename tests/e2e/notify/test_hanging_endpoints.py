"""Merchants whose notify endpoints hang (accept the connection, never answer) hold only their own
delivery slots: another merchant's notifications arrive without waiting for their 5 s timeouts."""

from __future__ import annotations

import selectors
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from wechatpayv3 import WeChatPay, WeChatPayType

from tests.support.common import new_trade_no
from tests.support.receiver import Receiver

HANGING = 40
GOOD = 10


class Hanging:
    """``count`` endpoints on their own ports that accept connections and never answer."""

    def __init__(self, count: int) -> None:
        self.listeners = []
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            s.listen(64)
            s.setblocking(False)
            self.listeners.append(s)
        self.accepted: list[socket.socket] = []
        self.ports_hit: set[int] = set()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{s.getsockname()[1]}/hang" for s in self.listeners]

    def _serve(self) -> None:
        with selectors.DefaultSelector() as sel:
            for s in self.listeners:
                sel.register(s, selectors.EVENT_READ)
            while not self._stop.is_set():
                for key, _ in sel.select(0.05):
                    listener = key.fileobj
                    assert isinstance(listener, socket.socket)
                    try:
                        conn, _addr = listener.accept()
                    except BlockingIOError:
                        continue
                    with self._lock:
                        self.accepted.append(conn)  # kept open, never read, never answered
                        self.ports_hit.add(listener.getsockname()[1])

    def hit(self) -> int:
        with self._lock:
            return len(self.ports_hit)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for s in [*self.accepted, *self.listeners]:
            s.close()


@pytest.fixture
def hanging() -> Iterator[Hanging]:
    h = Hanging(HANGING)
    yield h
    h.close()


def test_hanging_endpoints_do_not_delay_other_merchants(
    make_wxpay: Any, emu: Any, merchants: dict[str, dict[str, Any]], receiver: Receiver, hanging: Hanging
) -> None:
    mchid = merchants["pubkey"]["mchid"]

    def paid(client: WeChatPay) -> float:
        out_trade_no = new_trade_no("HANG")
        code, text = client.pay(
            description="挂起", out_trade_no=out_trade_no, amount={"total": 1}, pay_type=WeChatPayType.APP
        )
        assert code == 200, text
        assert emu.pay(mchid=mchid, out_trade_no=out_trade_no).status_code == 200
        return time.monotonic()

    with ThreadPoolExecutor(4) as pool:  # placed and paid four at a time: only the arrivals are timed
        list(pool.map(lambda url: paid(make_wxpay("pubkey", url)), hanging.urls()))
    # Every hanging endpoint holds a delivery open at once (none waits for another's timeout) ...
    deadline = time.monotonic() + 4.0
    while hanging.hit() < HANGING and time.monotonic() < deadline:
        time.sleep(0.02)
    assert hanging.hit() == HANGING
    # ... and, while all of them hang, another merchant's notifications arrive promptly.
    good = make_wxpay("pubkey", receiver.url)
    paid_at = [paid(good) for _ in range(GOOD)]
    arrived = receiver.wait_for(GOOD, timeout=10)
    # The k-th arrival against the k-th payment (each notification arrives after its own payment).
    waits = [at - t for at, t in zip(sorted(r.at for r in arrived), paid_at, strict=True)]
    assert max(waits) < 3.0, f"good notifications waited {[round(w, 2) for w in waits]} s"
    assert len(hanging.accepted) >= HANGING  # still hanging: the 5 s timeout has not run out for them

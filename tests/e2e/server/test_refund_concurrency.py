"""16 parallel partial refunds of one order, through wechatpayv3 from 16 threads, never refund more than
was paid. Here on SQLite; tests/e2e/server/test_postgres.py imports this test and runs it on its
PostgreSQL emulator (one process per store for the whole suite).
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Callable
from typing import Any

from wechatpayv3 import WeChatPay, WeChatPayType

PARALLEL = 16
TOTAL = 1000
EACH = 150  # 16 x 150 = 2400 asked for, 1000 paid: exactly 6 fit


def test_parallel_partial_refunds_never_exceed_the_paid_total(
    merchants: dict[str, dict[str, Any]],
    wxpay_for: Callable[..., WeChatPay],
    emu: Any,
    receiver: Any,
) -> None:
    merchant = merchants["pubkey"]
    out_trade_no = f"CONC_{secrets.token_hex(8)}"
    placer = wxpay_for(emu.url, merchant, receiver.url)
    code, _ = placer.pay(
        out_trade_no=out_trade_no,
        amount={"total": TOTAL},
        pay_type=WeChatPayType.NATIVE,
        description="并发退款",
    )
    assert code == 200
    assert emu.pay(mchid=merchant["mchid"], out_trade_no=out_trade_no).status_code == 200

    # One client per thread (requests sessions are not shared across threads).
    clients = [wxpay_for(emu.url, merchant, receiver.url) for _ in range(PARALLEL)]
    results: list[tuple[int, dict[str, Any]]] = []
    lock = threading.Lock()
    start = threading.Barrier(PARALLEL)

    def one(i: int) -> None:
        start.wait(30)
        code, text = clients[i].refund(
            out_refund_no=f"CONC_RF_{i:02d}",
            amount={"refund": EACH, "total": TOTAL, "currency": "CNY"},
            out_trade_no=out_trade_no,
        )
        with lock:
            results.append((code, json.loads(text) if text else {}))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(PARALLEL)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads)
    assert len(results) == PARALLEL

    accepted = [body for code, body in results if code == 200]
    refused = [(code, body.get("code")) for code, body in results if code != 200]
    assert sum(b["amount"]["refund"] for b in accepted) <= TOTAL
    assert len(accepted) == TOTAL // EACH
    assert refused == [(400, "INVALID_REQUEST")] * (PARALLEL - len(accepted))

    # What the emulator stored agrees: the order's refunds add up to what was accepted.
    [listed] = emu.orders_with(out_trade_no)
    stored = sorted(r["out_refund_no"] for r in listed["refunds"])
    assert stored == sorted(b["out_refund_no"] for b in accepted)

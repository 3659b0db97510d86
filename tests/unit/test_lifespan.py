"""The app's lifespan (app.py): shutting down keeps the event loop free."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

from tests.support.keys import KeyPool
from wxpay_emulator.app import create_app
from wxpay_emulator.config import Settings


def test_shutdown_waits_for_the_stores_connections_off_the_event_loop(
    tmp_path: Path, key_pool: KeyPool
) -> None:
    """Disposing of the store waits (up to 5 s) for connections still checked out: at shutdown that
    wait must not stop the event loop, which serves other tasks (and, embedded, other apps)."""
    pool = tmp_path / "keys"
    pool.mkdir()
    for i in range(3):
        (pool / f"{i:02d}.pem").write_bytes(key_pool.private_key_pem())
    app = create_app(Settings(data_dir=tmp_path / "data", key_pool_dir=pool))
    store = app.state.store

    async def shut_down() -> float:
        gaps: list[float] = []

        async def ticker() -> None:
            last = time.monotonic()
            for _ in range(10_000):  # bounded: cancelled when the shutdown is over
                await asyncio.sleep(0.01)
                now = time.monotonic()
                gaps.append(now - last)
                last = now

        async with app.router.lifespan_context(app):
            held = store.engine.connect()  # a store call still running on a worker thread
            timer = threading.Timer(0.6, held.close)  # gives it back 0.6 s into the shutdown
            tick = asyncio.create_task(ticker())
            await asyncio.sleep(0.05)
            timer.start()
        await asyncio.sleep(0.05)  # the ticker wakes once more: a stall just before counts too
        tick.cancel()
        timer.join(5)
        return max(gaps)

    longest = asyncio.run(shut_down())
    assert longest < 0.3, longest  # the loop stood still for the whole 0.6 s before the fix

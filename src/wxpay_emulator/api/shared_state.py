"""Per request, one read of the state every process shares (storage/shared_state.py): the business
clock's offset and whether any fault is armed. The domain's clock and the faults then answer from it,
so a request sees what any process did before it began."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from wxpay_emulator.storage import shared_state
from wxpay_emulator.storage.db import Store


class SharedStateSnapshot:
    def __init__(self, app: ASGIApp, store: Store) -> None:
        self.app = app
        self.store = store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # SQLite: inline, as every SQLite call (api/calls.py); PostgreSQL: off the event loop.
        if self.store.inline_calls:
            snapshot = shared_state.read_snapshot(self.store)
        else:
            snapshot = await run_in_threadpool(shared_state.read_snapshot, self.store)
        with shared_state.scope(snapshot):
            await self.app(scope, receive, send)

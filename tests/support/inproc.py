"""The emulator in process, driven by synchronous httpx clients through httpx.ASGITransport.

``InProcEmulator`` offers what the end-to-end fixtures take from a running ``EmulatorProcess`` (``url``,
``merchant``, ``create_merchant``), so ``Emu`` (the control plane), ``V3Api`` (hand-signed APIv3) and
``make_parties`` work unchanged against it: error, bad-input and fault matrices run without a server
process. The application's lifespan is not run, so no notification dispatcher runs (nothing is delivered;
notifications are still recorded); ``close`` stops the journal and disposes the store as the lifespan does.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from tests.support.asgi import BASE
from tests.support.keys import POOL_SIZE, session_pool
from wxpay_emulator.app import create_app
from wxpay_emulator.config import Settings
from wxpay_emulator.testing import read_material

# The app's merchants draw these keys in turn (crypto/keys.py PooledKeys): the session pool's keys, all
# different, so the keys of any five merchants made one after the other are all different.
POOL_KEYS = POOL_SIZE


class SyncASGITransport(httpx.BaseTransport):
    """httpx.ASGITransport behind a synchronous client: each request runs on this transport's own event
    loop (one request at a time), and its body is read in full before the response is handed back."""

    def __init__(self, app: Any) -> None:
        self._inner = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        self._loop = asyncio.new_event_loop()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        async def send() -> httpx.Response:
            content = await request.aread()
            forwarded = httpx.Request(request.method, request.url, headers=request.headers, content=content)
            response = await self._inner.handle_async_request(forwarded)
            body = await response.aread()
            await response.aclose()
            return httpx.Response(response.status_code, headers=response.headers, content=body)

        return self._loop.run_until_complete(send())

    def close(self) -> None:
        if not self._loop.is_closed():
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()


class InProcEmulator:
    """An emulator application in this process, its data in a temporary folder, and a client of it."""

    def __init__(self, **settings: Any) -> None:
        self._folder = Path(tempfile.mkdtemp(prefix="wxpay-inproc-"))
        self.data_dir = self._folder / "data"
        pool = self._folder / "keys"
        pool.mkdir()
        for i in range(POOL_KEYS):
            (pool / f"{i:02d}.pem").write_bytes(session_pool().private_key_pem())
        self.app: Any = create_app(Settings(data_dir=self.data_dir, key_pool_dir=pool, **settings))
        self.url = BASE
        self.http = httpx.Client(transport=SyncASGITransport(self.app), timeout=30)

    def __enter__(self) -> InProcEmulator:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.http.close()
        finally:
            try:
                self.app.state.journal.close()
            finally:
                try:
                    self.app.state.store.dispose()
                finally:
                    shutil.rmtree(self._folder, ignore_errors=True)

    def merchant(self, mchid: str) -> dict[str, Any]:
        """merchant.json of ``mchid`` with its PEM files read in (as ``EmulatorProcess.merchant``)."""
        return read_material(self.data_dir, mchid)

    def create_merchant(self, **body: Any) -> dict[str, Any]:
        response = self.http.post(self.url + "/emulator/v1/merchants", json=body)
        assert response.status_code in (200, 201), response.text
        return self.merchant(response.json()["mchid"])

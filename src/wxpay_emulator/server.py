"""An emulator served by uvicorn in a background thread of the calling process (like moto's
``ThreadedMotoServer``): no second interpreter to start, so a test session pays well under a second.

    with emulator_server(tmp_dir) as emu:   # an EmulatorClient of the running server
        emu.merchant()

It listens on a free 127.0.0.1 port (a socket bound before the server starts, so no other process can
take the port in between). For a separate process (restarts, crashes) see ``wxpay_emulator.testing``.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from wxpay_emulator.client import EmulatorClient

STARTUP_TIMEOUT = 60.0


class ThreadedEmulator:
    def __init__(self, data_dir: Path, *, database_url: str | None = None, **settings: Any) -> None:
        self.data_dir = Path(data_dir)
        self.database_url = database_url
        self.settings = settings
        self.url = ""
        self.startup_seconds = 0.0
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    def start(self) -> EmulatorClient:
        import uvicorn

        from wxpay_emulator.app import create_app
        from wxpay_emulator.config import Settings

        started = time.perf_counter()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        self._socket = sock
        given: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": port,
            "data_dir": self.data_dir,
            **self.settings,
        }
        if self.database_url:
            given["database_url"] = self.database_url
        app = create_app(Settings(**given))
        config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="wxpay-emulator", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the emulator's server thread stopped during start-up (see the log above)")
            if time.monotonic() >= deadline:
                self.stop()
                raise RuntimeError(f"the emulator did not start within {STARTUP_TIMEOUT}s")
            time.sleep(0.01)
        self.url = f"http://127.0.0.1:{port}"
        self.startup_seconds = time.perf_counter() - started
        return EmulatorClient(self.url)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(15)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None


@contextmanager
def emulator_server(
    data_dir: Path, *, database_url: str | None = None, **settings: Any
) -> Iterator[EmulatorClient]:
    server = ThreadedEmulator(data_dir, database_url=database_url, **settings)
    client = server.start()
    try:
        yield client
    finally:
        client.close()
        server.stop()

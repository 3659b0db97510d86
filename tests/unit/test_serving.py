"""``serve --workers N``: the config uvicorn's supervisor pickles into each spawned worker carries
every protection of serving.py, applied when the worker loads it (the e2e test checks them live)."""

from __future__ import annotations

import asyncio
import logging
import pickle
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from uvicorn.config import Config
from uvicorn.server import ServerState

from wxpay_emulator.serving import (
    MAX_HEAD_BYTES,
    HardenedH11Protocol,
    RateLimitedResourceErrors,
    WorkerConfig,
)


def test_the_worker_config_pickles_and_loads_hardened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WXPAY_EMULATOR_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("WXPAY_EMULATOR_CONTROL_TOKEN", "one-token-for-every-worker")
    config = WorkerConfig(
        "wxpay_emulator.app:create_app_from_env",
        head_timeout=3.0,
        trust_of=None,
        workers=2,
        http=HardenedH11Protocol,
        loop="asyncio",
        timeout_keep_alive=4,
        h11_max_incomplete_event_size=MAX_HEAD_BYTES,
    )
    worker = pickle.loads(pickle.dumps(config))  # what a spawned worker receives
    loggers = [logging.getLogger(name) for name in ("asyncio", "uvicorn.error")]
    before = [list(logger.filters) for logger in loggers]
    try:
        worker.load()
        protocol = worker.http_protocol_class
        assert issubclass(protocol, HardenedH11Protocol) and protocol.head_timeout == 3.0
        assert worker.timeout_keep_alive == 4 and worker.h11_max_incomplete_event_size == MAX_HEAD_BYTES
        for logger in loggers:
            assert any(isinstance(f, RateLimitedResourceErrors) for f in logger.filters)
        app = worker.app  # built in the worker, from the environment
        assert app.state.control_token == "one-token-for-every-worker"
        app.state.store.dispose()
    finally:
        for logger, filters in zip(loggers, before, strict=True):
            logger.filters[:] = filters


def test_served_connections_have_no_nagle_delay() -> None:
    """A connection accepted on a socket like the one ``serve`` binds (``socket.create_server``: proto 0,
    on which asyncio does not set TCP_NODELAY) gets TCP_NODELAY from the protocol. Without it every
    answer waited ~40 ms for the client's delayed ACK of its head before its body went out."""

    async def accepted_nodelay(protocol_factory: Callable[[], asyncio.BaseProtocol]) -> int:
        loop = asyncio.get_running_loop()
        with socket.create_server(("127.0.0.1", 0)) as listening:
            client = socket.create_connection(listening.getsockname())
            served, _ = listening.accept()
            transport, _protocol = await loop.connect_accepted_socket(protocol_factory, sock=served)
            try:
                return served.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
            finally:
                transport.abort()
                client.close()

    async def app(scope: Any, receive: Any, send: Any) -> None:  # never called: no request is sent
        raise AssertionError("no request was sent")

    config = Config(app=app, http=HardenedH11Protocol, lifespan="off")
    config.load()
    state = ServerState()
    assert asyncio.run(accepted_nodelay(asyncio.Protocol)) == 0  # what asyncio alone leaves
    assert asyncio.run(accepted_nodelay(lambda: HardenedH11Protocol(config, state, {}))) != 0

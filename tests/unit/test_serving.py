"""``serve --workers N``: the config uvicorn's supervisor pickles into each spawned worker carries
every protection of serving.py, applied when the worker loads it (the e2e test checks them live)."""

from __future__ import annotations

import logging
import pickle
from pathlib import Path

import pytest

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

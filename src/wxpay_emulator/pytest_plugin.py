"""The pytest plugin (entry point ``pytest11``: installing wxpay-emulator is enough).

Fixture ``wxpay_emulator`` (session scope): one emulator per test session, served in a background
thread on a free 127.0.0.1 port, and an :class:`~wxpay_emulator.client.EmulatorClient` of it. Each
``wxpay_emulator.merchant()`` is a new merchant with its own keys, so tests never see each other's orders.

Options (each also an environment variable):

- ``--wxpay-emulator-data-dir`` / ``WXPAY_EMULATOR_DATA_DIR``: keep the data (and merchants' key files)
  there; default a temporary directory of the session;
- ``--wxpay-emulator-database-url`` / ``WXPAY_EMULATOR_DATABASE_URL``: a PostgreSQL URL instead of
  SQLite in the data dir;
- ``--wxpay-emulator-url`` / ``WXPAY_EMULATOR_URL``: use an emulator already running there instead.

See docs/testing.md.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from wxpay_emulator.client import EmulatorClient


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("wxpay-emulator", "wxpay-emulator (the wxpay_emulator fixture)")
    group.addoption(
        "--wxpay-emulator-data-dir",
        default=None,
        help="data dir of the session's emulator (env WXPAY_EMULATOR_DATA_DIR; default: a temporary one)",
    )
    group.addoption(
        "--wxpay-emulator-database-url",
        default=None,
        help="PostgreSQL URL for the session's emulator (env WXPAY_EMULATOR_DATABASE_URL; default SQLite)",
    )
    group.addoption(
        "--wxpay-emulator-url",
        default=None,
        help="use the emulator already running at this URL (env WXPAY_EMULATOR_URL)",
    )


def _option(config: pytest.Config, name: str, env: str) -> str | None:
    value = config.getoption(name)
    if value:
        return str(value)
    return os.environ.get(env) or None


@pytest.fixture(scope="session")
def wxpay_emulator(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EmulatorClient]:
    """A WeChat Pay emulator shared by the whole session: ``.url``, ``.merchant()``, ``.pay()``,
    ``.wait_for_notification()``, ``.audit_notify()``, ``.wechatpayv3_client()`` ... (docs/testing.md)."""
    from wxpay_emulator.client import EmulatorClient
    from wxpay_emulator.server import ThreadedEmulator

    config = request.config
    running = _option(config, "--wxpay-emulator-url", "WXPAY_EMULATOR_URL")
    if running:
        with EmulatorClient(running) as client:
            client.health()
            yield client
        return
    data_dir = _option(config, "--wxpay-emulator-data-dir", "WXPAY_EMULATOR_DATA_DIR")
    database_url = _option(config, "--wxpay-emulator-database-url", "WXPAY_EMULATOR_DATABASE_URL")
    folder = Path(data_dir) if data_dir else tmp_path_factory.mktemp("wxpay-emulator")
    started = time.perf_counter()
    server = ThreadedEmulator(folder, database_url=database_url)
    client = server.start()
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and config.getoption("verbose") > 0:
        reporter.write_line(
            f"wxpay-emulator: {client.url} (data {folder}) started in {time.perf_counter() - started:.2f}s"
        )
    try:
        yield client
    finally:
        client.close()
        server.stop()

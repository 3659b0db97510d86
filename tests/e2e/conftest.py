"""End-to-end fixtures: a real emulator process, a real notification receiver, real SDK clients.

Everything here talks to 127.0.0.1 only, and every wait has a deadline and a bounded number of polls.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from wechatpayv3 import WeChatPay

from tests.support.common import DEFAULT_MCHID, FAST_NOTIFY, new_trade_no
from tests.support.emulator import Emu
from tests.support.receiver import Receiver
from tests.support.sdk import MakeWxpay, build_wxpay
from tests.support.v3 import V3Api
from wxpay_emulator.crypto.keys import generate_private_key_pem
from wxpay_emulator.testing import EmulatorProcess, run_emulator

# A refund is PROCESSING for this long on the business clock (the refund modules' own figure).
E2E_REFUND_DELAY = 60

# Any ten merchants made one after the other in one emulator process have keys of their own.
SERVER_POOL_KEYS = 30


@pytest.fixture(scope="session", autouse=True)
def server_key_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every emulator process this run starts takes its merchants' RSA keys from one folder of keys
    generated once (``WXPAY_EMULATOR_KEY_POOL_DIR``, crypto/keys.py ``PooledKeys``) instead of
    generating nine at start. Certificates, serials and ids are still made per merchant. Under xdist
    the workers share the folder: the first to take the lock generates it."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the run's base temp, common to every worker
    folder = root / "server-key-pool"
    with (root / "server-key-pool.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / "complete").exists():
            folder.mkdir(exist_ok=True)
            for i in range(SERVER_POOL_KEYS):
                path = folder / f"{i:02d}.pem"
                path.write_bytes(generate_private_key_pem())
                path.chmod(0o600)
            (folder / "complete").touch()
    name = "WXPAY_EMULATOR_KEY_POOL_DIR"
    previous = os.environ.get(name)
    os.environ[name] = str(folder)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    try:
        yield r
    finally:
        r.close()


@pytest.fixture(scope="module")
def emulator_env() -> dict[str, str]:
    """Environment of the module's emulator; a module overrides this fixture to change settings. The
    refund modules' 60 s delay is everyone's, so that they share the worker's process with the rest."""
    return {**FAST_NOTIFY, "WXPAY_EMULATOR_REFUND_DELAY_SECONDS": str(E2E_REFUND_DELAY)}


@pytest.fixture(scope="module")
def emulator_database_url() -> str | None:
    """None: SQLite in the data dir. The PostgreSQL module overrides it."""
    return None


SharedEmulators = Callable[[dict[str, str]], EmulatorProcess]


@pytest.fixture(scope="session")
def shared_emulators(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedEmulators]:
    """This worker's SQLite emulator processes, one per distinct environment: modules with the same
    settings share one, since a start costs seconds. ``emu`` resets orders, refunds, notifications,
    faults and the clock before each test; merchants a module makes stay, and disturb no other."""
    started: dict[tuple[tuple[str, str], ...], EmulatorProcess] = {}
    with contextlib.ExitStack() as stack:

        def get(env: dict[str, str]) -> EmulatorProcess:
            key = tuple(sorted(env.items()))
            if key not in started:
                data_dir = tmp_path_factory.mktemp("emulator")
                started[key] = stack.enter_context(run_emulator(data_dir, env=env))
            return started[key]

        yield get


@pytest.fixture(scope="module")
def emulator_process(
    shared_emulators: SharedEmulators,
    tmp_path_factory: pytest.TempPathFactory,
    emulator_env: dict[str, str],
    emulator_database_url: str | None,
) -> Iterator[EmulatorProcess]:
    """The module's emulator: the worker's shared one for its settings, or, on a database of the
    module's own (PostgreSQL modules drop theirs at the end), a process of its own."""
    if emulator_database_url is None:
        process = shared_emulators(emulator_env)
        assert process.proc is not None and process.proc.poll() is None, process.log()[-3000:]
        yield process
        return
    data_dir = tmp_path_factory.mktemp("emulator")
    with run_emulator(data_dir, env=emulator_env, database_url=emulator_database_url) as own:
        yield own


@pytest.fixture(scope="module")
def control_http() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def merchants(emulator_process: EmulatorProcess) -> dict[str, dict[str, Any]]:
    """The default merchant (public-key mode) and one in platform-certificate mode."""
    default = emulator_process.merchant(DEFAULT_MCHID)
    assert default["key_mode"] == "pubkey"
    cert = emulator_process.create_merchant(key_mode="cert")
    assert cert["key_mode"] == "cert"
    return {"pubkey": default, "cert": cert}


@pytest.fixture
def emu(emulator_process: EmulatorProcess, control_http: httpx.Client) -> Emu:
    """The module's emulator with orders, notifications and the clock reset (merchants stay)."""
    e = Emu(emulator_process, control_http)
    e.reset()
    return e


@pytest.fixture
def make_wxpay(emu: Emu, merchants: dict[str, dict[str, Any]]) -> MakeWxpay:
    """make_wxpay(mode, notify_url): mode is "pubkey", "cert" (cert_dir) or "cert-bootstrap"."""

    def make(mode: str, notify_url: str) -> WeChatPay:
        merchant = merchants["pubkey" if mode == "pubkey" else "cert"]
        return build_wxpay(emu.url, merchant, notify_url, bootstrap=mode == "cert-bootstrap")

    return make


@pytest.fixture
def v3api(emu: Emu, control_http: httpx.Client) -> Callable[[dict[str, Any]], V3Api]:
    def make(merchant: dict[str, Any]) -> V3Api:
        return V3Api(emu.url, merchant, control_http)

    return make


@pytest.fixture
def v3api_for(control_http: httpx.Client) -> Callable[[str, dict[str, Any]], V3Api]:
    """v3api_for(base_url, merchant): for an emulator other than the module's."""

    def make(base_url: str, merchant: dict[str, Any]) -> V3Api:
        return V3Api(base_url, merchant, control_http)

    return make


@pytest.fixture
def emu_for(control_http: httpx.Client) -> Callable[[EmulatorProcess], Emu]:
    """emu_for(process): the control-plane helper for an emulator a test starts itself."""

    def make(process: EmulatorProcess) -> Emu:
        return Emu(process, control_http)

    return make


@pytest.fixture
def wxpay_for() -> Callable[..., WeChatPay]:
    """wxpay_for(base_url, merchant, notify_url, bootstrap=False): see build_wxpay."""
    return build_wxpay


@pytest.fixture
def trade_no() -> Callable[..., str]:
    """trade_no(prefix="E2E"): a fresh out_trade_no."""
    return new_trade_no

"""In-process fixtures for the error, bad-input and fault matrices: the end-to-end fixtures' names
(``merchants``, ``emu``, ``v3api``, ``trade_no``) over one emulator application per module, reached through
httpx.ASGITransport (tests/support/inproc.py) instead of a server process."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.common import new_trade_no
from tests.support.emulator import Emu
from tests.support.inproc import InProcEmulator
from tests.support.v3 import V3Api


@pytest.fixture(scope="module")
def inproc() -> Iterator[InProcEmulator]:
    with InProcEmulator() as emulator:
        yield emulator


@pytest.fixture(scope="module")
def merchants(inproc: InProcEmulator) -> dict[str, dict[str, Any]]:
    """A merchant in public-key mode and one in platform-certificate mode."""
    pubkey = inproc.create_merchant(key_mode="pubkey")
    cert = inproc.create_merchant(key_mode="cert")
    assert (pubkey["key_mode"], cert["key_mode"]) == ("pubkey", "cert")
    return {"pubkey": pubkey, "cert": cert}


@pytest.fixture
def emu(inproc: InProcEmulator) -> Emu:
    """The module's emulator with orders, notifications and the clock reset (merchants stay)."""
    e = Emu(inproc, inproc.http)  # type: ignore[arg-type]  # Emu reads only ``url`` of its process
    e.reset()
    return e


@pytest.fixture
def v3api(inproc: InProcEmulator) -> Callable[[dict[str, Any]], V3Api]:
    """v3api(merchant): hand-signed APIv3 requests from ``merchant``."""

    def make(merchant: dict[str, Any]) -> V3Api:
        return V3Api(inproc.url, merchant, inproc.http)

    return make


@pytest.fixture
def trade_no() -> Callable[..., str]:
    """trade_no(prefix="E2E"): a fresh out_trade_no."""
    return new_trade_no

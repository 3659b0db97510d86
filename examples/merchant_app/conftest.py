"""Fixtures of the example shop."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from harness import RunningShop, serve_shop

from wxpay_emulator.client import EmulatorClient


@pytest.fixture
def shop(wxpay_emulator: EmulatorClient) -> Iterator[RunningShop]:
    """The shop of a fresh merchant (public key mode), reachable by the emulator."""
    with serve_shop(wxpay_emulator.merchant()) as running:
        yield running


@pytest.fixture
def cert_mode_shop(wxpay_emulator: EmulatorClient) -> Iterator[RunningShop]:
    """The same shop for a merchant in platform-certificate mode."""
    with serve_shop(wxpay_emulator.merchant(key_mode="cert")) as running:
        yield running

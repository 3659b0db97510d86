"""Fixtures of the partner API tests: the parties and hand-signed / SDK clients of their providers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from wechatpayv3 import WeChatPay

from tests.support.emulator import Emu
from tests.support.partner import MODES, MakeApi, Parties, Partner, make_parties, partner_wxpay
from tests.support.receiver import Receiver
from tests.support.v3 import V3Api


@pytest.fixture(scope="module")
def parties(emulator_process: Any, merchants: dict[str, dict[str, Any]]) -> Parties:
    return make_parties(emulator_process, merchants)


@pytest.fixture(autouse=True)
def no_faults(emu: Emu) -> Iterator[None]:
    """Every test starts and ends with no armed fault (the emulator's reset keeps them)."""
    assert emu.control("DELETE", "/faults").json() == {"pending": {}}
    yield
    emu.control("DELETE", "/faults")


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def partner(parties: Parties, mode: str) -> Partner:
    return parties.of(mode)


@pytest.fixture
def wxpay(emu: Emu, partner: Partner, receiver: Receiver) -> WeChatPay:
    return partner_wxpay(emu.url, partner.provider, receiver.url)


@pytest.fixture
def api(v3api: MakeApi, partner: Partner) -> V3Api:
    """Hand-signed requests from the provider of ``partner``."""
    return v3api(partner.provider)


@pytest.fixture
def pk(parties: Parties) -> Partner:
    """The public-key provider's party, for tests that need one mode only."""
    return parties.pubkey


@pytest.fixture
def pk_api(v3api: MakeApi, pk: Partner) -> V3Api:
    return v3api(pk.provider)

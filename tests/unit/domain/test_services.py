"""The assembled domain (domain/services.py): the business clock kept in the store."""

from __future__ import annotations

import json

import pytest

from wxpay_emulator.domain.services import Domain


@pytest.mark.both_databases
def test_clock_offset_accumulates_through_the_store(domain: Domain) -> None:
    assert domain.advance_clock(10) == pytest.approx(10)
    domain.clock.set_offset(0)  # another process's view: the stored value wins
    assert domain.advance_clock(5) == pytest.approx(15)
    assert json.loads(json.dumps(domain.clock.offset_seconds)) == pytest.approx(15)

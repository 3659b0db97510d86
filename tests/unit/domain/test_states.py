"""The transitions table: what each trade state may become, and nothing else."""

from __future__ import annotations

import pytest

from wxpay_emulator.domain.errors import DomainError, ErrorCode
from wxpay_emulator.domain.states import DESCRIPTIONS, TRANSITIONS, TradeState, check_transition

S = TradeState
EXPECTED = {
    S.NOTPAY: {S.USERPAYING, S.ACCEPT, S.SUCCESS, S.PAYERROR, S.CLOSED},
    S.USERPAYING: {S.SUCCESS, S.PAYERROR, S.CLOSED, S.REVOKED},
    S.ACCEPT: {S.SUCCESS, S.PAYERROR},
    S.PAYERROR: {S.CLOSED},
    S.SUCCESS: {S.REFUND},
    S.REFUND: {S.REFUND},
    S.CLOSED: set(),
    S.REVOKED: set(),
}


def test_table_is_exactly_the_documented_machine() -> None:
    assert {k: set(v) for k, v in TRANSITIONS.items()} == EXPECTED
    assert set(DESCRIPTIONS) == set(TradeState)


@pytest.mark.parametrize("current", list(TradeState))
@pytest.mark.parametrize("target", list(TradeState))
def test_check_transition(current: TradeState, target: TradeState) -> None:
    if target in EXPECTED[current]:
        assert check_transition(current, target) is target
    else:
        with pytest.raises(DomainError) as info:
            check_transition(current, target)
        assert info.value.code is ErrorCode.ILLEGAL_TRANSITION


def test_seed_002_trade_states_all_present() -> None:
    seed = ["SUCCESS", "REFUND", "NOTPAY", "CLOSED", "REVOKED", "USERPAYING", "PAYERROR", "ACCEPT"]
    assert {s.value for s in TradeState} == set(seed)

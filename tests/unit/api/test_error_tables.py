"""Every domain error code has an answer in each family that can meet it: none falls through to a
generic 500 / SYSTEMERROR by omission."""

from __future__ import annotations

import pytest

from wxpay_emulator.api.emulator.errors import EMULATOR_STATUS
from wxpay_emulator.api.v2.errors import DESCRIPTIONS, from_domain
from wxpay_emulator.api.v3.errors import V3_ERRORS
from wxpay_emulator.domain.errors import DomainError, ErrorCode

# Codes only the control plane and the emulator's own bookkeeping raise (never on an APIv2 path).
NOT_ON_V2 = {
    ErrorCode.OPENID_MISMATCH,
    ErrorCode.ILLEGAL_TRANSITION,
    ErrorCode.NOTIFICATION_NOT_FOUND,
    ErrorCode.MERCHANT_EXISTS,
    ErrorCode.CLOUD_ENDPOINT_NOT_FOUND,
}


@pytest.mark.parametrize("code", list(ErrorCode))
def test_control_plane_and_v3_tables_are_total(code: ErrorCode) -> None:
    assert code in EMULATOR_STATUS
    status, wire_code = V3_ERRORS[code]
    assert status in (400, 401, 403, 404, 429, 500) and wire_code.isupper()  # seeds 002/004's statuses


@pytest.mark.parametrize("code", sorted(set(ErrorCode) - NOT_ON_V2))
def test_v2_maps_every_code_it_can_meet(code: ErrorCode) -> None:
    mapped = from_domain(DomainError(code, "why"))
    assert mapped.code != "SYSTEMERROR" and mapped.code in DESCRIPTIONS
    assert mapped.message == "why" and not mapped.protocol

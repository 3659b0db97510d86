from __future__ import annotations

import pytest

from wxpay_emulator.notify.schedule import MAX_ATTEMPTS, RETRY_DELAYS_SECONDS, next_delay


def test_wechat_schedule() -> None:
    minutes = [d / 60 for d in RETRY_DELAYS_SECONDS]
    assert minutes == [0.25, 0.25, 0.5, 3, 10, 20, 30, 30, 30, 60, 180, 180, 180, 360, 360]
    assert MAX_ATTEMPTS == 16
    assert sum(RETRY_DELAYS_SECONDS) == 24 * 3600 + 4 * 60  # 24h 4m in all


def test_next_delay() -> None:
    assert next_delay(1) == 15
    assert next_delay(4) == 180
    assert next_delay(15) == 21600
    assert next_delay(16) is None
    assert next_delay(1, time_scale=0.01) == pytest.approx(0.15)
    with pytest.raises(ValueError):
        next_delay(0)

"""APIv3 request models (api/v3/wire.py)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from wxpay_emulator.api.v3.wire import DirectPrepayRequest


def body(notify_url: str) -> dict[str, object]:
    return {
        "appid": "wx1",
        "mchid": "1900000001",
        "description": "d",
        "out_trade_no": "ORDER0001",
        "notify_url": notify_url,
        "amount": {"total": 1},
    }


@pytest.mark.parametrize("url", ["http://127.0.0.1:99999/x", "http:///x", "ftp://example.com/x"])
def test_notify_url_must_be_deliverable(url: str) -> None:
    with pytest.raises(ValidationError):
        DirectPrepayRequest.model_validate(body(url))
    assert DirectPrepayRequest.model_validate(body("http://127.0.0.1:65535/n")).notify_url.endswith("/n")

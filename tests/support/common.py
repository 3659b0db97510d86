"""Constants and bounded waiting shared by the end-to-end tests (127.0.0.1 only; every wait has a
deadline and a bounded number of polls)."""

import secrets
import time
from collections.abc import Callable
from typing import TypeVar

DEFAULT_MCHID = "1900000001"
FAST_NOTIFY = {"WXPAY_EMULATOR_NOTIFY_TIME_SCALE": "0.01"}
WAIT_SECONDS = 15.0  # the longest a test waits for something that normally takes milliseconds
POLL_SECONDS = 0.02
AUTH_SCHEME = "WECHATPAY2-SHA256-RSA2048"
OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"

T = TypeVar("T")


def poll(fetch: Callable[[], T], until: Callable[[T], bool], what: str, timeout: float = WAIT_SECONDS) -> T:
    """Call ``fetch`` until ``until(result)`` holds; bounded both in time and in number of calls."""
    deadline = time.monotonic() + timeout
    value = fetch()
    for _ in range(int(timeout / POLL_SECONDS) + 1):
        if until(value) or time.monotonic() >= deadline:
            break
        time.sleep(POLL_SECONDS)
        value = fetch()
    if not until(value):
        raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {value!r}")
    return value


def new_trade_no(prefix: str = "E2E") -> str:
    """A fresh out_trade_no (WeChat allows 6 to 32 of [0-9A-Za-z_-|*])."""
    return f"{prefix}_{secrets.token_hex(10)}"[:32]

"""Wire helpers every family shares: Beijing time in WeChat's two text forms, compact JSON, the
``out_refund_no`` alphabet, and the refusal of text no store can hold.

A base module: it imports nothing of the project but ``clock`` (import-linter contract "base").
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from wxpay_emulator.clock import CHINA

__all__ = [
    "CHINA",
    "OUT_REFUND_NO_PATTERN",
    "OUT_TRADE_NO_PATTERN",
    "TIME_FORMAT",
    "dumps",
    "format_datetime",
    "format_time",
    "parse_time",
    "reject_nul",
]

TIME_FORMAT = "%Y%m%d%H%M%S"  # yyyyMMddHHmmss (APIv2 and the cloud families' time_end, time_expire ...)
_TIME_RE = re.compile(r"^\d{14}$")
# out_trade_no as APIv3 takes it: digits, letters, _-|*, 6 to 32 (api/v3; the control plane names
# orders by it too).
OUT_TRADE_NO_PATTERN = r"^[0-9A-Za-z_\-|*]{6,32}$"
# out_refund_no: digits, letters, _-|*@, 1 to 64 (APIv3 申请退款, APIv2 refund, cloud refund).
OUT_REFUND_NO_PATTERN = r"^[0-9A-Za-z_\-|*@]{1,64}$"


def format_time(moment: dt.datetime) -> str:
    """``yyyyMMddHHmmss`` in China Standard Time."""
    return moment.astimezone(CHINA).strftime(TIME_FORMAT)


def format_datetime(moment: dt.datetime) -> str:
    """``yyyy-MM-dd HH:mm:ss`` in China Standard Time (refund query and notification times)."""
    return moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")


def parse_time(text: str) -> dt.datetime:
    """``yyyyMMddHHmmss`` in China Standard Time, as an aware datetime. ValueError if malformed."""
    if not _TIME_RE.match(text):
        raise ValueError(f"{text!r} is not yyyyMMddHHmmss")
    try:
        return dt.datetime.strptime(text, TIME_FORMAT).replace(tzinfo=CHINA).astimezone(dt.UTC)
    except OverflowError as exc:  # year 1 in China is before year 1 in UTC
        raise ValueError(f"{text!r} is out of range") from exc


def dumps(payload: Any) -> str:
    """Compact JSON with Chinese kept as text, as WeChat writes it (answers, notifications, resources)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def reject_nul(value: Any) -> Any:
    """No WeChat field may hold a NUL character (and PostgreSQL text cannot store one), nor a lone
    surrogate (a JSON ``\\ud800`` escape: not text, and no store can encode it)."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("contains a NUL character")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError("contains a lone surrogate, not UTF-8 text") from exc
    return value

"""Wire helpers every family shares: Beijing time in WeChat's two text forms, compact JSON, the
``out_refund_no`` alphabet, and the refusal of text no store can hold.

A base module: it imports nothing of the project but ``clock`` (import-linter contract "base").
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import math
import re
from decimal import Decimal
from typing import Any

from wxpay_emulator import clock
from wxpay_emulator.clock import CHINA

__all__ = [
    "CHINA",
    "CLOUD_OUT_TRADE_NO_PATTERN",
    "COMBINE_OUT_TRADE_NO_PATTERN",
    "OUT_REFUND_NO_PATTERN",
    "OUT_TRADE_NO_PATTERN",
    "PARTNER_OUT_TRADE_NO_PATTERN",
    "TIME_FORMAT",
    "NotJSON",
    "check_ip",
    "dumps",
    "format_datetime",
    "format_time",
    "json_object",
    "loads",
    "parse_rfc3339",
    "parse_time",
    "reject_nul",
    "reject_nul_deep",
    "safe_text",
]

TIME_FORMAT = "%Y%m%d%H%M%S"  # yyyyMMddHHmmss (APIv2 and the cloud families' time_end, time_expire ...)
_TIME_RE = re.compile(r"^\d{14}$")
# out_trade_no as APIv3 takes it: digits, letters, _-|*, 6 to 32 (api/v3; the control plane names
# orders by it too).
OUT_TRADE_NO_PATTERN = r"^[0-9A-Za-z_\-|*]{6,32}$"
# Each family's out_trade_no alphabet, exactly as its page gives it:
# seed 001 (cloud hosting) and seed 003 (CloudPay): digits, letters, _- within 32 characters;
CLOUD_OUT_TRADE_NO_PATTERN = r"^[0-9A-Za-z_\-]{1,32}$"
# seed 002 (partner 查询订单, path and body): digits, letters, _-*, 6 to 32;
PARTNER_OUT_TRADE_NO_PATTERN = r"^[0-9A-Za-z_\-*]{6,32}$"
# seed 004 (合单下单, combine_out_trade_no and each sub-order's out_trade_no): digits, letters, _-|*, 6 to 32.
COMBINE_OUT_TRADE_NO_PATTERN = r"^[0-9A-Za-z_\-|*]{6,32}$"
# out_refund_no: digits, letters, _-|*@, 1 to 64 (APIv3 申请退款, APIv2 refund, cloud refund).
OUT_REFUND_NO_PATTERN = r"^[0-9A-Za-z_\-|*@]{1,64}$"


_RFC3339_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")


def parse_rfc3339(text: str) -> dt.datetime:
    """An RFC 3339 date-time as WeChat's APIv3 takes it (``2018-06-08T10:34:56+08:00``): the extended
    form with seconds and an offset (``Z`` or ``±hh:mm``); ``20300101T000000+0800`` and
    ``2030-01-01T00:00+08:00``, which ``fromisoformat`` would take, are refused. ValueError if not."""
    if _RFC3339_RE.match(text) is None:
        raise ValueError(f"{text!r} is not yyyy-MM-DDTHH:mm:ss+TIMEZONE")
    return clock.parse_rfc3339(text)


def check_ip(text: str) -> str:
    """``spbill_create_ip`` / ``spbillCreateIp`` / ``payer_client_ip``: an IPv4 or IPv6 address
    (seed 001: 支持IPV4和IPV6两种格式的IP地址). ValueError if not."""
    try:
        ipaddress.ip_address(text)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not an IPv4 or IPv6 address") from exc
    return text


def json_object(value: Any) -> dict[str, Any]:
    """A field documented as a JSON object that a family may take as an object or as a JSON string
    (``scene_info``: seed 001 "String(256) ... 该字段为JSON对象数据", APIv2 MWEB): the object.
    ValueError if it is neither."""
    if isinstance(value, str):
        try:
            value = loads(value)
        except (ValueError, RecursionError) as exc:
            raise ValueError("is not a JSON object") from exc
    if not isinstance(value, dict):
        raise ValueError("is not a JSON object")
    reject_nul_deep(value)
    if _holds_big_number(value):
        raise ValueError("holds a number out of range")
    return value


class NotJSON(json.JSONDecodeError):
    """Text that RFC 8259 does not call JSON although Python's ``json`` module reads it."""


def _no_constant(name: str) -> Any:
    raise NotJSON(f"{name} is not a JSON value (RFC 8259)", name, 0)


def _finite_float(text: str) -> float | Decimal:
    """A JSON number with a fraction or an exponent: a float, or, when it does not fit a double
    (``1e400``, which ``float`` reads as infinity), its exact value as a ``Decimal`` that no field
    takes (the models are strict) and no answer writes as a number."""
    value = float(text)
    return value if math.isfinite(value) else Decimal(text)


def loads(text: str | bytes, *, exact_big_numbers: bool = True) -> Any:
    """JSON as RFC 8259 defines it: ``NaN``, ``Infinity`` and ``-Infinity`` are not JSON
    (:class:`NotJSON`, a ``json.JSONDecodeError``), and no number becomes infinite (see
    :func:`_finite_float`) unless ``exact_big_numbers`` is off: for lax pydantic models (the control
    plane's, FastAPI's bodies), which would take an integral ``Decimal`` as a huge int but refuse an
    infinite float for every field they have. Nesting deeper than Python's recursion limit still
    raises RecursionError and an integer over 4300 digits ValueError, as ``json.loads`` does; callers
    answer both as unparsable."""
    if not exact_big_numbers:
        return json.loads(text, parse_constant=_no_constant)
    return json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)


def _holds_big_number(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, Decimal):
            return True
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def reject_nul_deep(value: Any) -> Any:
    """:func:`reject_nul` of every text inside a JSON value (keys included)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, inner in item.items():
                reject_nul(key)
                stack.append(inner)
        elif isinstance(item, list):
            stack.extend(item)
        else:
            reject_nul(item)
    return value


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


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def safe_text(text: str) -> str:
    """``text`` that UTF-8 can encode: a lone UTF-16 surrogate (a JSON ``\\ud800`` escape, or the bytes
    ED A0 80 that ``json.loads`` lets through) becomes U+FFFD. Every answer that echoes input goes
    through here once (``dumps``, APIv2's XML render), so no input can make an answer unencodable."""
    return _LONE_SURROGATE.sub("\ufffd", text)


def _no_infinity(value: Any) -> Any:
    """``payload`` with every float that is not finite (NaN, ±infinity) as ``null`` and every
    ``Decimal`` (an exact number :func:`loads` kept out of a double) as its text: JSON has no
    NaN/Infinity, and JavaScript would read ``1e400`` back as Infinity."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _no_infinity(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_no_infinity(v) for v in value]
    return value


def dumps(payload: Any) -> str:
    """Compact JSON with Chinese kept as text, as WeChat writes it (answers, notifications, resources);
    always encodable as UTF-8 (:func:`safe_text`) and always JSON: never ``NaN`` or ``Infinity``
    (:func:`_no_infinity`), whatever it is given."""
    try:
        text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (ValueError, TypeError):
        text = json.dumps(_no_infinity(payload), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return safe_text(text)


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

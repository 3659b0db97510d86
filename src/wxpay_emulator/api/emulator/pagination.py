"""Cursor pages for the control-plane lists (``?cursor=&limit=``): newest first, and stable while rows
are added: a cursor names the last row of a page (its id, or its creation time and id for
notifications), so the next page starts just after it, whatever was inserted meanwhile. The answer
keeps ``data`` and adds ``next`` (null on the last page)."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Callable, Sequence
from typing import Annotated, TypeVar

from fastapi import Query

from wxpay_emulator.domain.errors import DomainError, ErrorCode

DEFAULT_LIMIT = 200
MAX_LIMIT = 1000

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=200)]

T = TypeVar("T")


def encode(value: int | tuple[dt.datetime, str]) -> str:
    raw = value if isinstance(value, int) else [value[0].isoformat(), value[1]]
    return base64.urlsafe_b64encode(json.dumps(raw).encode()).decode().rstrip("=")


def split(
    found: Sequence[T], limit: int, key: Callable[[T], int | tuple[dt.datetime, str]]
) -> tuple[Sequence[T], str | None]:
    """``found`` was read with ``limit + 1`` rows: the page, and the cursor of the next page (``None`` when
    this is the last one), naming the page's last row by ``key``."""
    page = found[:limit]
    return page, encode(key(page[-1])) if len(found) > limit else None


def _decode(cursor: str) -> object:
    try:
        return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise _bad() from exc


def _bad() -> DomainError:
    return DomainError(ErrorCode.PARAM_ERROR, "cursor: not a cursor this list gave", field="cursor")


def id_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    value = _decode(cursor)
    if type(value) is not int:
        raise _bad()
    return value


def time_id_cursor(cursor: str | None) -> tuple[dt.datetime, str] | None:
    if cursor is None:
        return None
    value = _decode(cursor)
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)):
        raise _bad()
    try:
        at = dt.datetime.fromisoformat(value[0])
    except ValueError as exc:
        raise _bad() from exc
    if at.tzinfo is None:
        raise _bad()
    return at, value[1]

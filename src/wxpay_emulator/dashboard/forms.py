"""The dashboard's form fields: numbers read strictly, and an error as one line a person can read
(the domain's code and message, pydantic's first error, or the field's own words; never Python's text)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from pydantic import ValidationError

from wxpay_emulator.domain.errors import DomainError


def why(exc: Exception) -> str:
    if isinstance(exc, DomainError):
        return f"{exc.code.value}: {exc.message}"
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    return str(exc)


_WHOLE = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


def whole(form: Mapping[str, str], name: str, default: int, what: str) -> int:
    """A form field that holds a whole number (ASCII digits, a sign at most), or ``default`` when
    empty; ValueError ``"<name>: <what>"`` otherwise, never Python's ``int()`` text."""
    text = (form.get(name) or "").strip()
    if not text:
        return default
    if _WHOLE.fullmatch(text) is None or len(text) > 18:
        raise ValueError(f"{name}: {what}")
    return int(text)


def number(form: Mapping[str, str], name: str, what: str) -> float:
    """A form field that holds a decimal number (no exponent, NaN or infinity), 0 when empty;
    ValueError ``"<name>: <what>"`` otherwise, never Python's ``float()`` text."""
    text = (form.get(name) or "").strip()
    if not text:
        return 0.0
    if _DECIMAL.fullmatch(text) is None or len(text) > 32:
        raise ValueError(f"{name}: {what}")
    return float(text)

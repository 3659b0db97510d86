"""One journal entry: from the raw call the middleware saw to the row stored and the JSON served.

Bodies are kept up to :data:`MAX_BODY_BYTES` each and their secrets masked textually (the rest of the
body stays byte for byte as sent): JSON members, XML elements and form/query parameters named like a
secret or a signature (``sign``, ``paySign``, ``secret``, ``access_token``, ``api_key``, ``apiv3_key``,
``sandbox_signkey``, ``private_key`` ...), and PEM private keys anywhere. The ``signature="..."`` of an
APIv3 ``Authorization`` header is masked too. The work happens in the writer thread, not in the request.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from wxpay_emulator.clock import CHINA

MAX_BODY_BYTES = 16 * 1024
MAX_HEADER_CHARS = 1024
MASK = "***"
FAMILIES = ("v3", "v2", "cloud", "miniprogram")

_SECRET_NAMES = (
    "sign|paySign|pay_sign|signature|secret|appsecret|app_secret|access_token|api_key|apikey|apiv3_key|"
    "apiv3key|key|private_key|sandbox_signkey|session_key|password|client_secret"
)
_JSON_SECRET = re.compile(rf'("(?:{_SECRET_NAMES})"\s*:\s*)"(?:[^"\\]|\\.)*"', re.IGNORECASE)
_XML_SECRET = re.compile(rf"<({_SECRET_NAMES})>.*?</\1>", re.IGNORECASE | re.DOTALL)
_FORM_SECRET = re.compile(rf"(^|[&?])({_SECRET_NAMES})=[^&]*", re.IGNORECASE)
_PEM_PRIVATE = re.compile(r"-----BEGIN ([A-Z ]*)PRIVATE KEY-----.*?-----END \1PRIVATE KEY-----", re.DOTALL)
# A value the cut at MAX_BODY_BYTES left open (no closing quote, tag or PEM footer): masked to the end.
_OPEN_SECRET = re.compile(
    rf'(?:("(?:{_SECRET_NAMES})"\s*:\s*)"(?:[^"\\]|\\.)*'
    rf"|<({_SECRET_NAMES})>(?:(?!</\2>).)*"
    rf"|(-----BEGIN [A-Z ]*PRIVATE KEY-----)(?:(?!-----END).)*)\Z",
    re.IGNORECASE | re.DOTALL,
)
_AUTH_SIGNATURE = re.compile(r'(signature\s*=\s*)"[^"]*"', re.IGNORECASE)
_V2_CODE = re.compile(
    rb"<(return_code|result_code|err_code)>\s*(?:<!\[CDATA\[)?(.*?)(?:\]\]>)?\s*</\1>", re.DOTALL
)

# Request headers worth keeping (lower case); the rest (cookies included) are left out.
REQUEST_HEADERS = (
    "authorization",
    "content-type",
    "accept",
    "user-agent",
    "wechatpay-serial",
    "x-wx-appid",
    "x-wx-env",
    "x-wx-service",
    "x-wx-openid",
)
RESPONSE_HEADERS = (
    "content-type",
    "request-id",
    "wechatpay-serial",
    "wechatpay-timestamp",
    "wechatpay-nonce",
)


_NAMES = tuple(_SECRET_NAMES.lower().split("|"))


def mask_text(text: str) -> str:
    """``text`` with every secret value replaced by ``***``."""
    if "PRIVATE KEY" in text:
        text = _PEM_PRIVATE.sub(
            lambda m: f"-----BEGIN {m.group(1)}PRIVATE KEY-----{MASK}-----END {m.group(1)}PRIVATE KEY-----",
            text,
        )
    lower = text.lower()
    if not any(name in lower for name in _NAMES):  # most bodies: no name to look for, no regex to run
        return text
    text = _JSON_SECRET.sub(lambda m: f'{m.group(1)}"{MASK}"', text)
    text = _XML_SECRET.sub(lambda m: f"<{m.group(1)}>{MASK}</{m.group(1)}>", text)
    return _FORM_SECRET.sub(lambda m: f"{m.group(1)}{m.group(2)}={MASK}", text)


def mask_open_end(text: str) -> str:
    """A cut body's tail, when the cut fell inside a secret value: masked to the end."""

    def masked(m: re.Match[str]) -> str:
        if m.group(1) is not None:
            return f'{m.group(1)}"{MASK}'
        if m.group(2) is not None:
            return f"<{m.group(2)}>{MASK}"
        return f"{m.group(3)}{MASK}"

    text = _OPEN_SECRET.sub(masked, text)
    return _FORM_SECRET.sub(lambda m: f"{m.group(1)}{m.group(2)}={MASK}", text)


def _masked_check(check: dict[str, Any]) -> dict[str, Any]:
    """A sign_check whose expected_message (for APIv3, the whole signed body) is masked like a body."""
    message = check.get("expected_message")
    return {**check, "expected_message": mask_text(message)} if isinstance(message, str) else check


def _clean(text: str) -> str:
    # PostgreSQL text cannot hold NUL; a hostile request may carry one.
    return text.replace("\x00", "\\x00")


def body_text(body: bytes, total: int) -> str:
    """The kept part of a body (``body`` holds its first bytes, ``total`` its full length), masked."""
    kept = body[:MAX_BODY_BYTES]
    text = mask_text(kept.decode("utf-8", "replace"))
    if total > len(kept):
        text = mask_open_end(text)
        text += f"…[{total - len(kept)} more bytes]"
    return _clean(text)


def headers_of(raw: list[tuple[bytes, bytes]], names: tuple[str, ...]) -> dict[str, str]:
    kept: dict[str, str] = {}
    for key, value in raw:
        name = key.decode("latin-1").lower()
        if name in names:
            text = value.decode("latin-1")[:MAX_HEADER_CHARS]
            if name == "authorization":
                text = _AUTH_SIGNATURE.sub(rf'\1"{MASK}"', text)
            kept[name] = _clean(text)
    return kept


_AUTH_MCHID = re.compile(r'mchid\s*=\s*"([^"]{1,64})"')
_V2_MCHID = re.compile(rb"<mch_id>\s*(?:<!\[CDATA\[)?([^<\]]{1,64})")
_JSON_MCHID = re.compile(rb'"(?:sub_mch_id|subMchId|mchid|mch_id)"\s*:\s*"([^"]{1,64})"')
_QUERY_MCHID = re.compile(r"(?:^|&)mch_id=([^&]{1,64})")


def mchid_of(family: str, headers: Mapping[str, str], query: str, body: bytes) -> str | None:
    """The merchant a call names, when no verifier noted it (a request refused before its check)."""
    if family == "v3":
        m = _AUTH_MCHID.search(headers.get("authorization", ""))
        return m.group(1) if m else None
    if family == "v2":
        found = _V2_MCHID.search(body)
        return found.group(1).decode("utf-8", "replace").strip() if found else None
    if family == "cloud":
        found = _JSON_MCHID.search(body)
        return found.group(1).decode("utf-8", "replace") if found else None
    q = _QUERY_MCHID.search(query)
    return q.group(1) if q else None


def code_of(family: str, status: int, body: bytes) -> str | None:
    """The WeChat code of an answer (None on success), read from its body as the family writes it."""
    if family == "v2":
        fields = {
            m.group(1).decode(): m.group(2).decode("utf-8", "replace").strip()
            for m in _V2_CODE.finditer(body)
        }
        if fields.get("return_code") == "FAIL" or fields.get("result_code") == "FAIL":
            return fields.get("err_code") or "FAIL"
        return None
    try:
        data = json.loads(body) if body else None
    except ValueError:
        return None if status < 400 else str(status)
    if not isinstance(data, dict):
        return None if status < 400 else str(status)
    if family == "v3":
        return str(data["code"]) if status >= 300 and data.get("code") else None
    for name in ("errcode", "errCode"):
        value = data.get(name)
        if value not in (None, 0, "0"):
            return str(value)
    respdata = data.get("respdata")
    source = respdata if isinstance(respdata, dict) else data
    if source.get("result_code") == "FAIL" or source.get("return_code") == "FAIL":
        return str(source.get("err_code") or "FAIL")
    return None


@dataclass
class RawCall:
    """What the middleware saw of one call; turned into a row in the writer thread."""

    time: datetime
    family: str
    method: str
    path: str
    query: str
    request_headers: list[tuple[bytes, bytes]]
    request_body: bytes
    request_total: int
    status: int
    response_headers: list[tuple[bytes, bytes]]
    response_body: bytes
    response_total: int
    duration_ms: float
    mchid: str | None
    sign_check: dict[str, Any] | None
    extra: dict[str, Any] = field(default_factory=dict)


def row_of(raw: RawCall) -> dict[str, Any]:
    """The journal row of a call (masked, bounded)."""
    request_headers = headers_of(raw.request_headers, REQUEST_HEADERS)
    mchid = raw.mchid or mchid_of(raw.family, request_headers, raw.query, raw.request_body)
    return {
        "time": raw.time,
        "family": raw.family,
        "method": _clean(raw.method[:16]),
        "path": _clean(raw.path[:2048]),
        "query": _clean(mask_text(raw.query[:2048])),
        "mchid": _clean(mchid[:64]) if mchid else None,
        "status": raw.status,
        "code": _clean(code[:64]) if (code := code_of(raw.family, raw.status, raw.response_body)) else None,
        "duration_ms": round(raw.duration_ms, 3),
        "sign_check": None
        if raw.sign_check is None
        # expected_message holds the signed request body: masked like the body itself.
        else _clean(json.dumps(_masked_check(raw.sign_check), ensure_ascii=False)),
        "request_headers": json.dumps(request_headers, ensure_ascii=False),
        "request_body": body_text(raw.request_body, raw.request_total),
        "response_headers": json.dumps(
            headers_of(raw.response_headers, RESPONSE_HEADERS), ensure_ascii=False
        ),
        "response_body": body_text(raw.response_body, raw.response_total),
    }


def time_text(moment: datetime) -> str:
    """Beijing time with milliseconds (the journal orders calls closer than a second apart)."""
    return moment.astimezone(CHINA).isoformat(timespec="milliseconds")


def view_of(row: Mapping[str, Any], bodies: bool = True) -> dict[str, Any]:
    """The JSON of a stored entry (``GET /emulator/v1/requests``, the event stream, the dashboard)."""
    entry: dict[str, Any] = {
        "id": row["id"],
        "time": time_text(row["time"]),
        "family": row["family"],
        "method": row["method"],
        "path": row["path"],
        "query": row["query"],
        "mchid": row["mchid"],
        "status": row["status"],
        "code": row["code"],
        "duration_ms": row["duration_ms"],
        "sign_check": json.loads(row["sign_check"]) if row["sign_check"] else None,
    }
    if bodies:
        entry["request"] = {"headers": json.loads(row["request_headers"]), "body": row["request_body"]}
        entry["response"] = {"headers": json.loads(row["response_headers"]), "body": row["response_body"]}
    return entry

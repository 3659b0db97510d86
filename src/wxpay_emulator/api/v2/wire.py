"""APIv2's wire form: flat ``<xml>`` documents, text in CDATA, numbers bare, times ``yyyyMMddHHmmss``
in China Standard Time.

Parsing goes through defusedxml only, with DTDs refused: a document type declaration is how both XXE
and entity expansion ("billion laughs") arrive, and WeChat's documents never carry one. Every way a body
can be unusable maps to one of seed 001's protocol codes (:class:`WireError`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from wxpay_emulator.api.v2words import Value
from wxpay_emulator.wire import format_datetime, format_time, parse_time, safe_text

__all__ = [
    "Value",
    "format_datetime",
    "format_time",
    "parse_time",
]  # re-exported: v2 modules say wire.format_time

# A document bigger than this is no WeChat request (the largest field, detail, is 6000 characters).
MAX_BODY_BYTES = 64 * 1024


class WireError(Exception):
    """A body APIv2 cannot read: ``code`` is seed 001's (POST_DATA_EMPTY, NOT_UTF8, XML_FORMAT_ERROR)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def parse(body: bytes) -> dict[str, str]:
    """The fields of a v2 request body. Elements must be direct children of ``<xml>``, once each."""
    if not body.strip():
        raise WireError("POST_DATA_EMPTY", "post数据为空")
    if len(body) > MAX_BODY_BYTES:
        raise WireError("XML_FORMAT_ERROR", "XML格式错误: 请求体过大")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WireError("NOT_UTF8", "编码格式错误: 请使用UTF-8编码") from exc
    declared = re.match(r"^\s*<\?xml[^>]*encoding=[\"']([^\"']+)[\"']", text)
    if declared and declared.group(1).lower().replace("_", "-") not in ("utf-8", "utf8"):
        raise WireError("NOT_UTF8", f"编码格式错误: 声明的编码为{declared.group(1)}，请使用UTF-8")
    if text.lstrip().startswith("<?xml"):
        end = text.find("?>")
        if end < 0:
            raise WireError("XML_FORMAT_ERROR", "XML格式错误: XML声明未结束")
        text = text[end + 2 :]
    try:
        root = fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise WireError("XML_FORMAT_ERROR", "XML格式错误: 不允许DTD或实体声明") from exc
    except ParseError as exc:
        raise WireError("XML_FORMAT_ERROR", f"XML格式错误: {exc}") from exc
    if root.tag != "xml":
        raise WireError("XML_FORMAT_ERROR", "XML格式错误: 根元素必须是<xml>")
    fields: dict[str, str] = {}
    for child in root:
        if len(child):
            raise WireError("XML_FORMAT_ERROR", f"XML格式错误: <{child.tag}>不能包含子元素")
        if child.tag in fields:
            raise WireError("XML_FORMAT_ERROR", f"XML格式错误: <{child.tag}>重复")
        # As sent: the sign covers the values byte for byte, spaces included.
        value = child.text or ""
        if "\x00" in value:
            raise WireError("XML_FORMAT_ERROR", "XML格式错误: 含有非法字符")
        fields[child.tag] = value
    return fields


def _cdata(text: str) -> str:
    # "]]>" cannot appear inside one CDATA section: close it and open another around the ">".
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def render(fields: Mapping[str, Value | None], root: str = "xml") -> bytes:
    """``<xml>`` (or ``root``) with the fields in the given order; ints bare, text in CDATA, None left
    out."""
    parts = [f"<{root}>"]
    for key, value in fields.items():
        if value is None:
            continue
        inner = str(value) if isinstance(value, int) else _cdata(value)
        parts.append(f"<{key}>{inner}</{key}>")
    parts.append(f"</{root}>")
    return safe_text("".join(parts)).encode()


def text_fields(fields: Mapping[str, Value | None]) -> dict[str, str]:
    """The fields as the v2 sign sees them: every value as text, None left out."""
    return {k: str(v) for k, v in fields.items() if v is not None}


def is_digits(text: str) -> bool:
    """ASCII digits only (``str.isdigit`` also accepts "²" and other digits ``int`` refuses)."""
    return text.isascii() and text.isdigit()

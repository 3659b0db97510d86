"""Body and query parsing for APIv3: pydantic errors become PARAM_ERROR with WeChat's detail block."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from wxpay_emulator.api.v3.errors import V3Error
from wxpay_emulator.api.v3.wire import OUT_TRADE_NO_PATTERN
from wxpay_emulator.wire import NotJSON, loads

M = TypeVar("M", bound=BaseModel)

_ISSUES = {
    "missing": "此字段为必填项",
    "string_too_long": "字符数超过最大长度",
    "string_too_short": "字符数小于最小长度",
    "string_pattern_mismatch": "不符合格式要求",
    "int_type": "类型应为整数",
    "string_type": "类型应为字符串",
    "bool_type": "类型应为布尔值",
    "model_type": "类型应为JSON对象",
    "list_type": "类型应为JSON数组",
    "greater_than_equal": "小于最小值",
    "less_than_equal": "大于最大值",
    "value_error": "含有非法字符",
    "string_unicode": "含有非法字符",
    "too_long": "元素个数超过上限",
    "too_short": "元素个数少于下限",
}


def param_error(field: str, value: Any, issue: str, location: str = "body") -> V3Error:
    source = "/" + location + "/" + field.replace(".", "/")
    return V3Error(
        400,
        "PARAM_ERROR",
        f"输入源“{source}”映射到值字段“{field}”校验失败：{issue}",
        {"field": field, "value": value, "issue": issue, "location": location},
    )


def parse_body(model: type[M], body: bytes) -> M:
    if not body:
        raise V3Error(400, "INVALID_REQUEST", "请求体为空，应为JSON")
    data = _json(body)
    if not isinstance(data, dict):
        raise V3Error(400, "PARAM_ERROR", "请求体应为JSON对象")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        issue = _ISSUES.get(first["type"], first["msg"])
        value = first.get("input") if first["type"] != "missing" else None
        if isinstance(value, Decimal):
            # A number beyond a double (1e400, which a plain float reads as infinity): out of range,
            # as an over-large integer is; not echoed (JavaScript would read it back as Infinity).
            if first["type"] in ("int_type", "float_type"):
                issue = _ISSUES["less_than_equal"] if value > 0 else _ISSUES["greater_than_equal"]
            value = None
        if isinstance(value, dict | list):
            value = None
        raise param_error(field, value, issue) from exc


def _unparsable(reason: str) -> V3Error:
    return V3Error(400, "PARAM_ERROR", f"请求体不是合法的JSON: {reason}")


def _json(body: bytes) -> Any:
    """The body as RFC 8259 JSON (wire.loads), or PARAM_ERROR saying why not in words of its own."""
    try:
        return loads(body)
    except UnicodeDecodeError as exc:
        raise _unparsable("不是UTF-8编码的文本") from exc
    except RecursionError as exc:
        raise _unparsable("嵌套层数过深") from exc
    except json.JSONDecodeError as exc:
        if isinstance(exc, NotJSON):  # its doc is the constant: NaN, Infinity or -Infinity
            raise _unparsable(f"{exc.doc}不是JSON数值(RFC 8259)") from exc
        raise _unparsable(str(exc)) from exc
    except ValueError as exc:  # an integer of more than 4300 digits (Python's int conversion limit)
        raise _unparsable("数值位数过多") from exc


def required_query(params: dict[str, str], name: str, max_length: int = 32) -> str:
    value = params.get(name, "")
    if not value:
        raise param_error(name, None, "此字段为必填项", "query")
    if len(value) > max_length:
        raise param_error(name, value, "字符数超过最大长度", "query")
    return value


def out_trade_no_in_path(value: str, pattern: str = OUT_TRADE_NO_PATTERN, name: str = "out_trade_no") -> str:
    """A path ``{out_trade_no}`` must be in the alphabet of the family's page (``pattern``: direct
    [0-9A-Za-z_-|*], partner seed 002 [0-9A-Za-z_-*], combine seed 004 [0-9A-Za-z_-|*]), 6-32."""
    if re.fullmatch(pattern, value) is None:
        raise param_error(name, value, "不符合格式要求", "path")
    return value


def is_transaction_id(value: str) -> bool:
    """WeChat's transaction ids are ASCII digits (``str.isdigit`` also takes ４２ and ٤٢)."""
    return re.fullmatch(r"[0-9]{1,32}", value) is not None

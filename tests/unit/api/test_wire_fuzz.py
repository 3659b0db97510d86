"""Whatever bytes arrive, the APIv2 and cloud wire layers answer with their own refusal, never another
exception (which the server would turn into a SYSTEMERROR / 500)."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from wxpay_emulator.api.cloud import wire as cloud
from wxpay_emulator.api.v2 import wire
from wxpay_emulator.crypto import v2_sign

FIELD_NAMES = st.sampled_from(
    ["appid", "mch_id", "nonce_str", "sign", "body", "total_fee", "time_expire", "out_trade_no", "x"]
)
TEXT = st.text(max_size=40)


def xml_of(fields: dict[str, str], cdata: bool) -> bytes:
    def value(v: str) -> str:
        return "<![CDATA[" + v.replace("]]>", "]]]]><![CDATA[>") + "]]>" if cdata else v

    return ("<xml>" + "".join(f"<{k}>{value(v)}</{k}>" for k, v in fields.items()) + "</xml>").encode()


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_v2_parse_of_any_bytes(body: bytes) -> None:
    try:
        fields = wire.parse(body)
    except wire.WireError as exc:
        assert exc.code in ("POST_DATA_EMPTY", "NOT_UTF8", "XML_FORMAT_ERROR")
    else:
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in fields.items())


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(FIELD_NAMES, TEXT, max_size=8), st.booleans())
def test_v2_parse_of_generated_documents_and_sign_round_trip(fields: dict[str, str], cdata: bool) -> None:
    try:
        parsed = wire.parse(xml_of(fields, cdata))
    except wire.WireError as exc:
        assert exc.code in ("POST_DATA_EMPTY", "NOT_UTF8", "XML_FORMAT_ERROR")
        return
    if cdata and all("\r" not in v and "\x00" not in v for v in fields.values()):
        assert parsed == fields  # text comes back as sent, spaces included
        signature = v2_sign.sign(fields, "k" * 32)
        v2_sign.verify(parsed, "k" * 32, signature)
    expire = parsed.get("time_expire")
    if expire is not None:
        with contextlib.suppress(ValueError):  # ValueError is the one refusal (routes: INVALID_REQUEST)
            wire.parse_time(expire)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)
MODELS: list[type[BaseModel]] = [
    cloud.HostingUnifiedOrder,
    cloud.FunctionUnifiedOrder,
    cloud.HostingOrderRef,
    cloud.FunctionOrderRef,
    cloud.HostingRefund,
    cloud.FunctionRefund,
    cloud.HostingRefundQuery,
    cloud.FunctionRefundQuery,
]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(MODELS), st.dictionaries(TEXT, JSON, max_size=6) | JSON)
def test_cloud_parse_of_any_json(model: type[BaseModel], data: Any) -> None:
    with contextlib.suppress(cloud.CloudBadRequest):
        cloud.parse(model, json.dumps(data).encode())


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(MODELS), st.binary(max_size=200))
def test_cloud_parse_of_any_bytes(model: type[BaseModel], body: bytes) -> None:
    with contextlib.suppress(cloud.CloudBadRequest):
        cloud.parse(model, body)

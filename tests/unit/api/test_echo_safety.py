"""Issue 10, item 2: an answer that echoes input is safe for any input. A lone UTF-16 surrogate (the JSON
escape ``\\ud800`` or the raw bytes ED A0 80) is refused in the family's shape, never a 500, in every
family: APIv3 (``detail.value``), APIv2 (XML), cloud hosting and CloudPay (``errmsg`` / ``respdata``),
the Mini Program API and the control plane."""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.asgi import client, make_app, new_merchant, v2_xml, v3
from wxpay_emulator.domain.cloud_pay import ensure_provider
from wxpay_emulator.domain.models import Merchant
from wxpay_emulator.wire import dumps, safe_text

ESCAPED = b'"\\ud800"'  # the JSON escape of a lone surrogate
RAW = b'"\xed\xa0\x80"'  # the CESU-8 bytes of one (json.loads of bytes lets them through)
LONE = [ESCAPED, RAW, b'"a\\udfffb"', b'"\\ud800\\u0000"']


MERCHANTS: dict[str, Merchant] = {}


@pytest.fixture(scope="module")
def app() -> Iterator[Any]:
    with tempfile.TemporaryDirectory() as tmp:
        made = make_app(Path(tmp))
        provider = ensure_provider(made.state.domain.merchants)
        MERCHANTS.update(direct=new_merchant(made), cloud_sub=new_merchant(made, sp_mchid=provider.mchid))
        yield made


def body_with(template: dict[str, Any], field: str, raw: bytes) -> bytes:
    """``template`` as JSON with ``field``'s value replaced by the raw JSON text ``raw``."""
    marker = "@@VALUE@@"
    text = json.dumps({**template, field: marker}).encode()
    return text.replace(json.dumps(marker).encode(), raw)


def test_safe_text_and_dumps() -> None:
    assert safe_text("a\ud800b\udfff") == "a\ufffdb\ufffd"
    assert safe_text("中文😀") == "中文😀"
    assert dumps({"v": "\ud800"}).encode("utf-8") == '{"v":"\ufffd"}'.encode()


@pytest.mark.parametrize("raw", LONE)
@pytest.mark.parametrize("field", ["description", "out_trade_no", "attach", "notify_url"])
def test_v3_refuses_a_lone_surrogate_with_param_error(app: Any, raw: bytes, field: str) -> None:
    merchant = MERCHANTS["direct"]
    template = {
        "appid": merchant.appid,
        "mchid": merchant.mchid,
        "description": "d",
        "out_trade_no": "abcdefg1",
        "notify_url": "http://127.0.0.1/n",
        "amount": {"total": 1},
    }

    async def go() -> None:
        async with client(app) as http:
            r = await v3(
                http, merchant, "POST", "/v3/pay/transactions/native", body_with(template, field, raw)
            )
            assert r.status_code == 400, r.text
            answer = r.json()
            assert answer["code"] == "PARAM_ERROR"
            assert answer["detail"]["field"] == field

    asyncio.run(go())


@pytest.mark.parametrize("raw", LONE)
@pytest.mark.parametrize("path", ["/_/pay/unifiedorder", "/_/cloudpay/unifiedOrder", "/_/pay/queryorder"])
def test_cloud_refuses_a_lone_surrogate_in_its_shape(app: Any, raw: bytes, path: str) -> None:
    sub = MERCHANTS["cloud_sub"]
    camel = path.startswith("/_/cloudpay/")
    template = {"subMchId" if camel else "sub_mch_id": sub.mchid, "body": "b"}

    async def go() -> None:
        async with client(app) as http:
            for field in ("body", "out_trade_no" if not camel else "outTradeNo", "scene_info", "detail"):
                r = await http.post(path, content=body_with(template, field, raw))
                assert r.status_code == 200, r.text
                answer = r.json()
                if camel:
                    assert answer["errCode"] != 0 or answer.get("returnCode") == "SUCCESS"
                else:
                    assert answer["errcode"] == 0 and answer["respdata"]["result_code"] == "FAIL", answer
                r = await http.post(path, content=b"{" + raw + b": 1}")  # a key, too
                assert r.status_code == 200, r.text

    asyncio.run(go())


def test_v2_answers_xml_for_any_surrogate_form(app: Any) -> None:
    merchant = MERCHANTS["direct"]

    async def go() -> None:
        async with client(app) as http:
            for body in (
                b"<xml><body>\xed\xa0\x80</body></xml>",
                b"<xml><body>&#xD800;</body></xml>",
                v2_xml(
                    {"appid": merchant.appid, "mch_id": merchant.mchid, "body": "\ufffd"}, merchant.api_key
                ),
            ):
                r = await http.post("/pay/unifiedorder", content=body)
                assert r.status_code == 200, r.text
                assert r.text.startswith("<xml>") and "<return_code>" in r.text

    asyncio.run(go())


@pytest.mark.parametrize("raw", LONE)
def test_miniprogram_and_control_plane_refuse_without_a_500(app: Any, raw: bytes) -> None:
    async def go() -> None:
        async with client(app) as http:
            cases = [
                ("/cgi-bin/stable_token", body_with({"grant_type": "client_credential"}, "appid", raw)),
                ("/emulator/v1/faults", body_with({"code": "SYSTEM_ERROR"}, "operation", raw)),
                ("/emulator/v1/merchants", body_with({}, "mchid", raw)),
                ("/emulator/v1/payments", body_with({"mchid": "1900000001"}, "out_trade_no", raw)),
                ("/emulator/v1/refunds", body_with({"mchid": "1", "amount": 1}, "out_trade_no", raw)),
            ]
            for path, body in cases:
                r = await http.post(path, content=body, headers={"Content-Type": "application/json"})
                assert r.status_code < 500, (path, r.text)
                r.content.decode("utf-8")  # the answer is UTF-8 text
            r = await http.get(
                "/wxa/getpaidunionid", params={"access_token": "\ud800".encode("utf-8", "surrogatepass")}
            )
            assert r.status_code < 500

    asyncio.run(go())

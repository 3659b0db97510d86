"""Inputs a review found to break the new families (each was a 500, a hot loop, a lost refund or a wrong
SIGNERROR before its fix): every one now gets the family's own answer. In process; moved from
tests/e2e/server/test_hostile_input.py, which keeps the v2 refund inputs (rerun on PostgreSQL by
tests/e2e/server/test_families_postgres.py) and the callback retried by the real dispatcher."""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from typing import Any

import pytest

from tests.e2e.cloud.test_flow import SEED_001, SEED_003, function, hosting
from tests.e2e.v2.test_flow import APPID, parse, signed_body
from tests.support.cloud import Parties, make_parties
from tests.support.common import DEFAULT_MCHID, new_trade_no
from tests.support.emulator import Emu
from tests.support.inproc import InProcEmulator
from tests.support.v2 import order_fields
from wxpay_emulator import wire

DEEP_JSON = b"[" * 100_000 + b"]" * 100_000


@pytest.fixture(scope="module")
def default_merchant(inproc: InProcEmulator) -> dict[str, Any]:
    """The merchant ``serve`` makes at first start (cli/serve.py): DEFAULT_MCHID with the default appid."""
    return inproc.create_merchant(mchid=DEFAULT_MCHID, appid=APPID)


@pytest.fixture(scope="module")
def parties(inproc: InProcEmulator) -> Parties:
    return make_parties(Emu(inproc, inproc.http))  # type: ignore[arg-type]  # Emu reads only ``url``


def v2_post(
    inproc: InProcEmulator, path: str, fields: dict[str, str], key: str | None = None
) -> dict[str, str]:
    key = key or inproc.merchant(DEFAULT_MCHID)["api_key"]
    response = inproc.http.post(inproc.url + path, content=signed_body(fields, key))
    assert response.status_code == 200, response.text
    return parse(response.text)


def test_v2_sign_with_non_ascii_text_is_signerror(inproc: InProcEmulator, default_merchant: Any) -> None:
    for path in ("/pay/unifiedorder", "/sandboxnew/pay/getsignkey"):
        body = f"<xml><appid>{APPID}</appid><mch_id>{DEFAULT_MCHID}</mch_id><nonce_str>n</nonce_str>"
        body += "<sign>签名</sign></xml>"
        answer = parse(inproc.http.post(inproc.url + path, content=body.encode()).text)
        assert answer["err_code"] == "SIGNERROR", (path, answer)


def test_v2_values_are_signed_as_sent_spaces_included(inproc: InProcEmulator, default_merchant: Any) -> None:
    answer = v2_post(inproc, "/pay/unifiedorder", order_fields(body="商品 ", attach=" a "))
    assert answer["result_code"] == "SUCCESS", answer


@pytest.mark.parametrize(
    "overrides",
    [
        {"total_fee": "²"},
        {"total_fee": "١٠٠"},
        {"time_expire": "00010101000000"},
        {"time_start": "00010101000000"},
    ],
)
def test_v2_numbers_and_times_out_of_range(
    inproc: InProcEmulator, default_merchant: Any, overrides: dict[str, str]
) -> None:
    answer = v2_post(inproc, "/pay/unifiedorder", order_fields(**overrides))
    assert answer["return_code"] == "SUCCESS" and answer["err_code"] == "INVALID_REQUEST", answer


def test_v2_unterminated_declaration(inproc: InProcEmulator, default_merchant: Any) -> None:
    answer = parse(
        inproc.http.post(inproc.url + "/pay/unifiedorder", content=b'<?xml encoding="utf-8"><xml/>').text
    )
    assert answer["err_code"] == "XML_FORMAT_ERROR"


def test_v3_refund_from_must_add_up(
    inproc: InProcEmulator, default_merchant: Any, emu: Emu, v3api: Any
) -> None:
    api = v3api(inproc.merchant(DEFAULT_MCHID))
    out_trade_no = new_trade_no("F")
    api.request(
        "POST",
        "/v3/pay/transactions/native",
        api.prepay_body(out_trade_no, "https://127.0.0.1/n", payer=None),
    )
    emu.pay(mchid=DEFAULT_MCHID, out_trade_no=out_trade_no)
    body = {
        "out_trade_no": out_trade_no,
        "out_refund_no": "RF" + out_trade_no,
        "amount": {
            "refund": 10,
            "total": 100,
            "currency": "CNY",
            "from": [{"account": "AVAILABLE", "amount": 99}],
        },
    }
    answer = api.request("POST", "/v3/refund/domestic/refunds", body)
    assert answer.status_code == 400 and answer.json()["code"] == "PARAM_ERROR", answer.text
    deep = api.request("POST", "/v3/refund/domestic/refunds", DEEP_JSON)
    assert deep.status_code == 400 and deep.json()["code"] == "PARAM_ERROR", deep.text


def test_cloud_deep_json_and_year_one(emu: Emu, parties: Parties) -> None:
    for op in ("unifiedorder", "refund", "queryrefund"):
        deep = hosting(emu, op, DEEP_JSON)
        assert deep.status_code == 200 and deep.json()["errcode"] == -1, deep.text
    old = hosting(
        emu, "unifiedorder", {**SEED_001, "sub_mch_id": parties.sub, "time_expire": "00010101000000"}
    )
    assert old.status_code == 200 and old.json()["respdata"]["err_code"] == "INVALID_REQUEST", old.text
    fn = function(emu, "unifiedOrder", {**SEED_003, "subMchId": parties.sub, "timeExpire": "00010101000000"})
    assert fn.status_code == 200, fn.text


def test_mini_program_unreadable_bodies(inproc: InProcEmulator) -> None:
    url = inproc.url + "/cgi-bin/stable_token"
    surrogate = b'{"grant_type":"client_credential","appid":"\\ud800","secret":"x"}'
    for body in (surrogate, b"\xff\xff", DEEP_JSON):
        answer = inproc.http.post(url, content=body, headers={"Content-Type": "application/json"})
        assert answer.status_code == 200 and answer.json()["errcode"] not in (-1, 40066), (
            body[:20],
            answer.text,
        )


def strict_json(response: Any) -> Any:
    """The answer read as RFC 8259 JSON: NaN, Infinity or -Infinity anywhere fails (as Node's
    JSON.parse, Go and Java parsers fail); a number that JavaScript reads as Infinity (1e400) too."""

    def refuse(name: str) -> Any:
        raise AssertionError(f"{name} in {response.text!r}")

    def finite(text: str) -> float:
        value = float(text)
        assert math.isfinite(value), response.text
        return value

    return json.loads(response.content, parse_constant=refuse, parse_float=finite)


def with_total(api: Any, literal: str) -> bytes:
    body = json.dumps(api.prepay_body(new_trade_no("N"), "https://127.0.0.1/n"))
    return re.sub(r'"total": \d+', f'"total": {literal}', body, count=1).encode()


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_v3_nan_and_infinity_are_not_json(
    inproc: InProcEmulator, default_merchant: Any, emu: Emu, v3api: Any, constant: str
) -> None:
    """NaN/Infinity are not JSON (RFC 8259): answered as any unparsable body (400 PARAM_ERROR, no
    detail), and the answer itself is JSON."""
    api = v3api(inproc.merchant(DEFAULT_MCHID))
    unparsable = strict_json(api.request("POST", "/v3/pay/transactions/jsapi", b'{"amount": '))
    answer = api.request("POST", "/v3/pay/transactions/jsapi", with_total(api, constant))
    assert answer.status_code == 400, answer.text
    api.assert_signed(answer)
    body = strict_json(answer)
    assert body.keys() == unparsable.keys() == {"code", "message"}, body
    assert body["code"] == unparsable["code"] == "PARAM_ERROR"
    assert body["message"].startswith("请求体不是合法的JSON") and constant in body["message"], body
    assert emu.orders() == []


def test_v3_a_number_beyond_a_double_is_out_of_range(
    inproc: InProcEmulator, default_merchant: Any, emu: Emu, v3api: Any
) -> None:
    """1e400 (which Python's float reads as inf) answers as an over-large integer does: PARAM_ERROR on
    the field, 大于最大值; its value is not echoed as a number JavaScript would read as Infinity."""
    api = v3api(inproc.merchant(DEFAULT_MCHID))
    big = strict_json(api.request("POST", "/v3/pay/transactions/jsapi", with_total(api, str(2**64 + 1))))
    for literal in ("1e400", "1E+400", "-1e400"):
        answer = api.request("POST", "/v3/pay/transactions/jsapi", with_total(api, literal))
        assert answer.status_code == 400, answer.text
        body = strict_json(answer)
        assert body["code"] == big["code"] == "PARAM_ERROR", body
        assert body["detail"]["field"] == big["detail"]["field"] == "amount.total", body
        issue = big["detail"]["issue"] if literal[0] != "-" else "小于最小值"
        assert body["detail"]["issue"] == issue and body["detail"]["value"] is None, body
    assert emu.orders() == []


def test_v3_deep_json_answers_in_its_own_words(
    inproc: InProcEmulator, default_merchant: Any, v3api: Any
) -> None:
    api = v3api(inproc.merchant(DEFAULT_MCHID))
    for path in ("/v3/pay/transactions/jsapi", "/v3/refund/domestic/refunds"):
        answer = api.request("POST", path, DEEP_JSON)
        body = strict_json(answer)
        assert answer.status_code == 400 and body["code"] == "PARAM_ERROR", answer.text
        assert body["message"] == "请求体不是合法的JSON: 嵌套层数过深", body
        assert "recursion" not in answer.text and "decoding" not in answer.text
    digits = api.request("POST", "/v3/pay/transactions/jsapi", b'{"amount": {"total": ' + b"9" * 5000 + b"}}")
    assert digits.status_code == 400 and strict_json(digits)["code"] == "PARAM_ERROR", digits.text
    assert "4300" not in digits.text and "int" not in digits.text


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_cloud_and_mini_program_keep_their_shape_for_nan(emu: Emu, parties: Parties, constant: str) -> None:
    fields = {**SEED_001, "sub_mch_id": parties.sub}
    raw = re.sub(r'"total_fee": \d+', f'"total_fee": {constant}', json.dumps(fields), count=1).encode()
    assert raw != json.dumps(fields).encode()
    hosted = hosting(emu, "unifiedorder", raw)
    assert hosted.status_code == 200, hosted.text
    body = strict_json(hosted)
    if constant == "1e400":  # a number: refused as a wrong value of its field, in respdata
        assert body["respdata"]["err_code"] == "INVALID_REQUEST", body
    else:  # not JSON: as any unparsable body
        assert body == {
            "errcode": -1,
            "errmsg": f"invalid JSON body: {constant} is not a JSON value (RFC 8259)",
        }
    fn_fields = {**SEED_003, "subMchId": parties.sub}
    raw = re.sub(r'"totalFee": \d+', f'"totalFee": {constant}', json.dumps(fn_fields), count=1).encode()
    assert raw != json.dumps(fn_fields).encode()
    fn = function(emu, "unifiedOrder", raw)
    assert fn.status_code == 200, fn.text
    fn_body = strict_json(fn)
    assert fn_body["errCode"] != 0, fn_body
    if constant != "1e400":
        assert fn_body["errMsg"].startswith("cloudPay.unifiedOrder:fail invalid JSON body"), fn_body
    assert emu.orders() == []
    # Mini Program (FastAPI reads its body): as any JSON it cannot read, 47001 data format error
    url = emu.url + "/cgi-bin/stable_token"
    token = f'{{"grant_type":"client_credential","appid":"wx1","secret":"s","x":{constant}}}'.encode()
    mp = emu.http.post(url, content=token, headers={"Content-Type": "application/json"})
    mp_body = strict_json(mp)
    if constant != "1e400":
        assert mp.status_code == 200 and mp_body["errcode"] == 47001, mp.text
    unionid = emu.http.request(
        "GET", emu.url + "/wxa/getpaidunionid?openid=o", content=b'{"a": ' + constant.encode() + b"}"
    )
    assert strict_json(unionid)["errcode"] == 41001, unionid.text
    # the control plane: its own {"code", "message"}, not a number it cannot write
    ctl = emu.http.post(
        emu.url + "/emulator/v1/clock",
        content=b'{"advance_seconds": ' + constant.encode() + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert ctl.status_code == 400 and strict_json(ctl)["code"] == "PARAM_ERROR", ctl.text


@pytest.mark.parametrize("literal", ["1e400", "-1E+400"])
def test_cloud_detail_object_with_a_number_beyond_a_double_is_refused(
    emu: Emu, parties: Parties, literal: str
) -> None:
    """``detail`` may be a JSON object (seed 001): a number in it beyond a double (which wire.loads keeps
    as a Decimal) is refused in respdata as any malformed field is (``scene_info`` alike), not a 500
    from the order's extras."""
    for value in ('{"cost_price": LIT}', '{"goods_detail": [{"price": LIT}]}'):
        value = value.replace("LIT", literal)
        raw = json.dumps({**SEED_001, "sub_mch_id": parties.sub, "out_trade_no": new_trade_no("D")})
        hosted = hosting(emu, "unifiedorder", (raw[:-1] + ', "detail": ' + value + "}").encode())
        assert hosted.status_code == 200, hosted.text
        assert strict_json(hosted)["respdata"]["err_code"] == "INVALID_REQUEST", hosted.text
        raw = json.dumps({**SEED_003, "subMchId": parties.sub, "outTradeNo": new_trade_no("E")})
        fn = function(emu, "unifiedOrder", (raw[:-1] + ', "detail": ' + value + "}").encode())
        assert fn.status_code == 200, fn.text
        assert strict_json(fn)["errCode"] == "INVALID_REQUEST", fn.text
    assert emu.orders() == []


def test_v2_keeps_its_xml_for_json_with_nan(inproc: InProcEmulator, default_merchant: Any) -> None:
    answer = inproc.http.post(inproc.url + "/pay/unifiedorder", content=b'{"total_fee": NaN}')
    assert answer.status_code == 200 and parse(answer.text)["err_code"] == "XML_FORMAT_ERROR", answer.text


def test_wire_dumps_never_writes_nan_or_infinity() -> None:
    payload = {
        "a": math.nan,
        "b": [math.inf, -math.inf, 1.5],
        "c": ("x", Decimal("1E+400")),
        "d": {"e": 2**70},
    }
    text = wire.dumps(payload)
    assert json.loads(text, parse_constant=lambda name: pytest.fail(name)) == {
        "a": None,
        "b": [None, None, 1.5],
        "c": ["x", "1E+400"],
        "d": {"e": 2**70},
    }
    assert wire.dumps({"a": 1, "b": "中"}) == '{"a":1,"b":"中"}'
    with pytest.raises(wire.NotJSON):
        wire.loads("[NaN]")
    assert wire.loads("[1e400, 1.5]") == [Decimal("1e400"), 1.5]
    with pytest.raises(ValueError, match="out of range"):
        wire.json_object('{"a": 1e400}')


def test_v3_unimplemented_path_is_signed_like_every_v3_error(
    inproc: InProcEmulator, default_merchant: Any, v3api: Any
) -> None:
    api = v3api(inproc.merchant(DEFAULT_MCHID))
    path = "/v3/bill/tradebill?bill_date=2026-11-30"
    answer = api.request("GET", path)
    assert answer.status_code == 404, answer.text
    assert answer.headers["content-type"] == "application/json; charset=utf-8"
    api.assert_signed(answer)
    body = strict_json(answer)
    assert body["code"] == "EMULATOR_NOT_IMPLEMENTED" and "/v3/bill/tradebill" in body["message"]
    assert answer.content == wire.dumps(body).encode()  # compact, as every other answer
    # signed in the merchant's mode (the cert-mode merchant's platform certificate)
    cert = v3api(inproc.create_merchant(key_mode="cert"))
    signed_cert = cert.request("POST", "/v3/pay/transactions/codepay", {"mchid": cert.merchant["mchid"]})
    assert signed_cert.status_code == 404
    cert.assert_signed(signed_cert)
    # who did not authenticate gets the same answer unsigned, as with other errors
    for unsigned in (
        inproc.http.get(inproc.url + path),
        api.request("GET", path, serial_no="0" * 40),
        api.request("GET", path, mchid="1999999999"),
    ):
        assert unsigned.status_code == 404 and strict_json(unsigned)["code"] == "EMULATOR_NOT_IMPLEMENTED"
        assert unsigned.headers["content-type"] == "application/json; charset=utf-8"
        assert "wechatpay-signature" not in unsigned.headers, unsigned.headers


@pytest.mark.parametrize("prefix", ["", "/sandboxnew", "/xdc/apiv2sandbox"])
def test_v2_unimplemented_path_is_unmistakable(
    inproc: InProcEmulator, default_merchant: Any, prefix: str
) -> None:
    path = prefix + "/pay/micropay"
    answer = inproc.http.post(inproc.url + path, content=signed_body(order_fields(), "k"))
    assert answer.status_code == 404, answer.text
    fields = parse(answer.text)
    assert fields["return_code"] == "FAIL" and fields["err_code"] == "EMULATOR_NOT_IMPLEMENTED", fields
    assert fields["return_msg"].startswith("EMULATOR_NOT_IMPLEMENTED: ") and path in fields["return_msg"], (
        fields
    )
    assert "sign" not in fields

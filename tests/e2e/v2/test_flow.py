"""APIv2 end to end: wechatpy against the real server process, MD5 and HMAC-SHA256, production and the
simulation prefixes; the v2 payment notification to a real local HTTP server."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import xmltodict
from wechatpy.exceptions import WeChatPayException
from wechatpy.pay import WeChatPay as WeChatPayV2

from tests.support.common import DEFAULT_MCHID, OPENID, new_trade_no, poll
from tests.support.emulator import Emu
from tests.support.receiver import Receiver
from tests.support.v2 import APPID, CLIENT_IP
from wxpay_emulator.crypto import v2_sign
from wxpay_emulator.testing import EmulatorProcess

XML_OK = ("text/xml", b"<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg>OK</return_msg></xml>")
XML_FAIL = (
    "text/xml",
    b"<xml><return_code><![CDATA[FAIL]]></return_code><return_msg>busy</return_msg></xml>",
)

MakeV2 = Callable[..., WeChatPayV2]

# Seed 001's error table (名称 -> 描述), copied here so the tests do not read the emulator's own table.
SEED_001_DES = {
    "INVALID_REQUEST": "参数错误",
    "NOAUTH": "商户无此接口权限",
    "NOTENOUGH": "余额不足",
    "ORDERPAID": "商户订单已支付",
    "ORDERCLOSED": "订单已关闭",
    "SYSTEMERROR": "系统错误",
    "APPID_NOT_EXIST": "APPID不存在",
    "MCHID_NOT_EXIST": "MCHID不存在",
    "APPID_MCHID_NOT_MATCH": "appid和mch_id不匹配",
    "LACK_PARAMS": "缺少参数",
    "OUT_TRADE_NO_USED": "商户订单号重复",
    "SIGNERROR": "签名错误",
    "XML_FORMAT_ERROR": "XML格式错误",
    "REQUIRE_POST_METHOD": "请使用post方法",
    "POST_DATA_EMPTY": "post数据为空",
    "NOT_UTF8": "编码格式错误",
}


@pytest.fixture
def make_v2(emulator_process: EmulatorProcess) -> MakeV2:
    """A wechatpy APIv2 client of a merchant (default: the emulator's default merchant)."""

    def make(merchant: dict[str, Any] | None = None, *, sandbox: bool = False, **kw: Any) -> WeChatPayV2:
        m = merchant or emulator_process.merchant(DEFAULT_MCHID)
        client = WeChatPayV2(m["appid"], m["api_key"], m["mchid"], sandbox=sandbox, timeout=10, **kw)
        client.API_BASE_URL = emulator_process.url + "/"
        return client

    return make


def parse(text: str) -> dict[str, str]:
    data: dict[str, str] = xmltodict.parse(text)["xml"]
    return data


def check_sign(fields: dict[str, str], key: str) -> None:
    sign_type = "HMAC-SHA256" if len(fields["sign"]) == 64 else "MD5"
    v2_sign.verify(fields, key, fields["sign"], sign_type)


def create(client: WeChatPayV2, trade_type: str = "JSAPI", **kw: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "trade_type": trade_type,
        "body": "测试商品",
        "total_fee": 101,
        "notify_url": kw.pop("notify_url", "http://127.0.0.1:9/notify"),
        "client_ip": CLIENT_IP,
        "out_trade_no": kw.pop("out_trade_no", None) or new_trade_no("V2"),
    }
    if trade_type == "JSAPI":
        params["user_id"] = OPENID
    params.update(kw)
    result: dict[str, Any] = client.order.create(**params)
    return result


@pytest.mark.parametrize("sign_type", ["MD5", "HMAC-SHA256"])
def test_unifiedorder_pay_query_close(emu: Emu, make_v2: MakeV2, sign_type: str) -> None:
    client = make_v2()
    key = client.api_key
    out_trade_no = new_trade_no("V2")
    created = create(client, out_trade_no=out_trade_no, sign_type=sign_type, attach="a&b")
    assert created["return_code"] == "SUCCESS" and created["result_code"] == "SUCCESS"
    assert created["trade_type"] == "JSAPI" and created["prepay_id"].startswith("wx")
    assert created["mch_id"] == DEFAULT_MCHID and created["appid"] == APPID
    check_sign(created, key)
    assert len(created["sign"]) == (64 if sign_type == "HMAC-SHA256" else 32)

    queried = client.order.query(out_trade_no=out_trade_no)
    assert queried["trade_state"] == "NOTPAY" and queried["total_fee"] == "101"
    check_sign(queried, key)

    assert emu.pay(mchid=DEFAULT_MCHID, out_trade_no=out_trade_no, openid=OPENID).status_code == 200
    paid = client.order.query(out_trade_no=out_trade_no)
    assert paid["trade_state"] == "SUCCESS" and paid["openid"] == OPENID
    assert paid["cash_fee"] == "101" and paid["attach"] == "a&b" and len(paid["time_end"]) == 14
    by_id = client.order.query(transaction_id=paid["transaction_id"])
    assert by_id["out_trade_no"] == out_trade_no

    with pytest.raises(WeChatPayException) as closing_paid:
        client.order.close(out_trade_no)
    assert closing_paid.value.errcode == "ORDERPAID"

    second = new_trade_no("V2")
    create(client, out_trade_no=second)
    closed = client.order.close(second)
    assert closed["result_code"] == "SUCCESS"
    assert client.order.query(out_trade_no=second)["trade_state"] == "CLOSED"
    with pytest.raises(WeChatPayException) as again:
        client.order.close(second)
    assert again.value.errcode == "ORDERCLOSED"


def test_trade_types(make_v2: MakeV2) -> None:
    client = make_v2()
    native = create(client, "NATIVE", product_id="P1")
    assert native["code_url"].startswith("weixin://wxpay/bizpayurl?pr=")
    app = create(client, "APP")
    assert app["trade_type"] == "APP" and "code_url" not in app
    mweb = create(client, "MWEB", scene_info={"h5_info": {"type": "Wap", "wap_url": "https://x"}})
    page = httpx.get(mweb["mweb_url"], timeout=10)
    assert page.status_code == 200 and "1.01" in page.text, page.text
    with pytest.raises(WeChatPayException) as lack:
        create(client, "NATIVE")
    assert lack.value.errcode == "LACK_PARAMS"
    with pytest.raises(WeChatPayException) as no_openid:
        create(client, "JSAPI", user_id=None)
    assert no_openid.value.errcode == "LACK_PARAMS"


def test_reentry_rules(make_v2: MakeV2, emu: Emu) -> None:
    client = make_v2()
    out_trade_no = new_trade_no("V2")
    expire = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    fixed = {"time_expire": expire, "time_start": dt.datetime.now(dt.UTC), "out_trade_no": out_trade_no}
    first = create(client, **fixed)
    assert create(client, **fixed)["prepay_id"] == first["prepay_id"]
    with pytest.raises(WeChatPayException) as changed:
        create(client, **{**fixed, "total_fee": 102})
    assert changed.value.errcode == "INVALID_REQUEST"
    emu.pay(mchid=DEFAULT_MCHID, out_trade_no=out_trade_no)
    with pytest.raises(WeChatPayException) as paid:
        create(client, **fixed)
    assert paid.value.errcode == "ORDERPAID"


def test_payment_notification_md5_parsed_by_wechatpy(make_v2: MakeV2, emu: Emu, receiver: Receiver) -> None:
    client = make_v2()
    receiver.reply = lambda status: XML_OK if status == 200 else XML_FAIL
    receiver.answer(200, then=500)  # the first answer is a FAIL body: not acknowledged
    receiver.answer(500, 200)
    out_trade_no = new_trade_no("V2")
    create(client, out_trade_no=out_trade_no, notify_url=receiver.url, attach="x")
    emu.pay(mchid=DEFAULT_MCHID, out_trade_no=out_trade_no)
    got = receiver.wait_for(2)
    assert got[0].body == got[1].body
    assert got[0].headers["Content-Type"].startswith("text/xml")
    result = client.parse_payment_result(got[1].body)
    assert result["out_trade_no"] == out_trade_no and result["total_fee"] == 101
    assert result["result_code"] == "SUCCESS" and result["attach"] == "x"
    assert "<total_fee>101</total_fee>" in got[1].body


def test_notification_ack_needs_success_xml(make_v2: MakeV2, emu: Emu, receiver: Receiver) -> None:
    """HTTP 200 with a FAIL body, or with JSON, is not an acknowledgement; SUCCESS XML is."""
    client = make_v2()
    plan = iter([XML_FAIL, ("application/json", b'{"code":"SUCCESS"}'), XML_OK])
    receiver.reply = lambda _status: next(plan, XML_OK)
    out_trade_no = new_trade_no("V2")
    create(client, out_trade_no=out_trade_no, notify_url=receiver.url, sign_type="HMAC-SHA256")
    emu.pay(mchid=DEFAULT_MCHID, out_trade_no=out_trade_no)
    got = receiver.wait_for(3)
    fields = parse(got[0].body)
    assert len(fields["sign"]) == 64 and "sign_type" not in fields  # as WeChat sends HMAC orders
    check_sign(fields, client.api_key)
    note = poll(
        lambda: next((n for n in emu.notifications() if n["status"] == "DELIVERED"), None),
        lambda n: n is not None,
        "delivered after the SUCCESS answer",
    )
    assert note is not None and note["attempts"] == 3


@pytest.mark.parametrize("sign_type", ["MD5", "HMAC-SHA256"])
def test_sandbox_switch(
    make_v2: MakeV2, emu: Emu, emulator_process: EmulatorProcess, receiver: Receiver, sign_type: str
) -> None:
    client = make_v2(sandbox=True)
    sandbox_key = client.sandbox_api_key
    assert sandbox_key and sandbox_key != client.api_key and len(sandbox_key) == 32
    receiver.reply = lambda _status: XML_OK
    out_trade_no = new_trade_no("SB")
    created = create(client, out_trade_no=out_trade_no, sign_type=sign_type, notify_url=receiver.url)
    check_sign(created, sandbox_key)
    emu.pay(mchid=DEFAULT_MCHID, out_trade_no=out_trade_no)
    assert client.order.query(out_trade_no=out_trade_no)["trade_state"] == "SUCCESS"
    # The notification is signed with the sandbox key (and the order's sign_type).
    notice = parse(receiver.wait_for(1)[0].body)
    check_sign(notice, sandbox_key)
    if sign_type == "MD5":  # wechatpy's parse_payment_result verifies MD5 only
        assert client.parse_payment_result(receiver.requests[0].body)["out_trade_no"] == out_trade_no
    closing = new_trade_no("SB")
    create(client, out_trade_no=closing, sign_type=sign_type)
    assert client.order.close(closing)["result_code"] == "SUCCESS"
    assert client.order.query(out_trade_no=closing)["trade_state"] == "CLOSED"
    # Production does not see the simulation system's orders, nor accept its key.
    with pytest.raises(WeChatPayException) as apart:
        make_v2().order.query(out_trade_no=out_trade_no)
    assert apart.value.errcode == "ORDERNOTEXIST"
    # The newer simulation prefix and its getsignkey path answer the same key.
    m = emulator_process.merchant(DEFAULT_MCHID)
    fields = {"mch_id": DEFAULT_MCHID, "nonce_str": "abc123"}
    body = f"<xml><mch_id>{DEFAULT_MCHID}</mch_id><nonce_str>abc123</nonce_str>"
    body += f"<sign>{v2_sign.sign(fields, m['api_key'])}</sign></xml>"
    xdc = httpx.post(emulator_process.url + "/xdc/apiv2getsignkey/sign/getsignkey", content=body)
    assert parse(xdc.text)["sandbox_signkey"] == sandbox_key
    newer = make_v2(sandbox=False)
    newer.API_BASE_URL = emulator_process.url + "/xdc/apiv2sandbox/"
    newer.api_key = sandbox_key
    assert newer.order.query(out_trade_no=out_trade_no)["trade_state"] == "SUCCESS"


def raw(emulator_process: EmulatorProcess, body: bytes, method: str = "POST", **kw: Any) -> dict[str, str]:
    response = httpx.request(method, emulator_process.url + "/pay/unifiedorder", content=body, **kw)
    assert response.status_code == 200, response.text
    return parse(response.text)


def signed_body(fields: dict[str, str], key: str, sign_type: str = "MD5") -> bytes:
    sign = v2_sign.sign(fields, key, sign_type)
    inner = "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in fields.items())
    return f"<xml>{inner}<sign>{sign}</sign></xml>".encode()


BILLION_LAUGHS = b"""<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">
<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><xml><body>&lol2;</body></xml>"""
XXE = b"""<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<xml><body>&xxe;</body></xml>"""


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"", "POST_DATA_EMPTY"),
        (b"   ", "POST_DATA_EMPTY"),
        (b"not xml at all", "XML_FORMAT_ERROR"),
        (b"<xml><a>1</a>", "XML_FORMAT_ERROR"),
        (b"<root><a>1</a></root>", "XML_FORMAT_ERROR"),
        (b"<xml><a><b>1</b></a></xml>", "XML_FORMAT_ERROR"),
        (BILLION_LAUGHS, "XML_FORMAT_ERROR"),
        (XXE, "XML_FORMAT_ERROR"),
        ("<xml><body>中文</body></xml>".encode("gbk"), "NOT_UTF8"),
        (b'<?xml version="1.0" encoding="GBK"?><xml><a>1</a></xml>', "NOT_UTF8"),
        (b"<xml><mch_id>1900000001</mch_id></xml>", "APPID_NOT_EXIST"),
        (b"<xml><appid>wx1</appid></xml>", "MCHID_NOT_EXIST"),
        (b"<xml><appid>wx1</appid><mch_id>1234567890</mch_id></xml>", "MCHID_NOT_EXIST"),
        (b"<xml><appid>wx1</appid><mch_id>1900000001</mch_id></xml>", "LACK_PARAMS"),
        (
            b"<xml><appid>wx1</appid><mch_id>1900000001</mch_id><nonce_str>n</nonce_str>"
            b"<sign>ABC</sign></xml>",
            "SIGNERROR",
        ),
    ],
)
def test_bad_bodies_get_protocol_codes(emulator_process: EmulatorProcess, body: bytes, code: str) -> None:
    answer = raw(emulator_process, body)
    assert answer["return_code"] == "FAIL" and answer["err_code"] == code, answer
    assert answer["err_code_des"] == SEED_001_DES[code] and answer["return_msg"]  # the reason
    assert "sign" not in answer


def test_get_and_no_content_type(emulator_process: EmulatorProcess) -> None:
    got = httpx.get(emulator_process.url + "/pay/orderquery")
    assert got.status_code == 200 and parse(got.text)["err_code"] == "REQUIRE_POST_METHOD"
    m = emulator_process.merchant(DEFAULT_MCHID)
    fields = {
        "appid": APPID,
        "mch_id": DEFAULT_MCHID,
        "nonce_str": "n1",
        "out_trade_no": "NOSUCHORDER",
    }
    request = httpx.Request(
        "POST", emulator_process.url + "/pay/orderquery", content=signed_body(fields, m["api_key"])
    )
    assert "content-type" not in request.headers
    with httpx.Client() as client:
        answer = parse(client.send(request).text)
    assert answer["return_code"] == "SUCCESS" and answer["err_code"] == "ORDERNOTEXIST"
    check_sign(answer, m["api_key"])


def test_business_codes(emulator_process: EmulatorProcess, make_v2: MakeV2, emu: Emu) -> None:
    client = make_v2()
    # APPID_MCHID_NOT_MATCH: an appid the merchant is not bound to.
    stranger = make_v2()
    stranger.appid = "wx0000000000000000"
    with pytest.raises(WeChatPayException) as mismatch:
        create(stranger)
    assert mismatch.value.errcode == "APPID_MCHID_NOT_MATCH"
    assert mismatch.value.errmsg == SEED_001_DES["APPID_MCHID_NOT_MATCH"]  # err_code_des, word for word
    # NOAUTH: a sub-merchant calling on its own behalf.
    provider = emulator_process.create_merchant()
    sub = emulator_process.create_merchant(sp_mchid=provider["mchid"])
    with pytest.raises(WeChatPayException) as noauth:
        create(make_v2(sub))
    assert noauth.value.errcode == "NOAUTH"
    # OUT_TRADE_NO_USED: the number belongs to an order another API family placed.
    out_trade_no = new_trade_no("V2")
    create(client, out_trade_no=out_trade_no)
    emu_orders = emu.orders_with(out_trade_no)
    assert emu_orders and emu_orders[0]["family"] == "v2"
    # INVALID_REQUEST: bad formats.
    for bad in ({"total_fee": "1.5"}, {"total_fee": -1}, {"out_trade_no": "bad no!"}, {"trade_type": "H5"}):
        with pytest.raises(WeChatPayException) as invalid:
            create(client, **bad)
        assert invalid.value.errcode == "INVALID_REQUEST", bad
        assert invalid.value.errmsg == "参数错误" and invalid.value.return_msg != "OK"  # the reason
    # SYSTEMERROR and NOTENOUGH come from WeChat's side: the fault injector answers them, signed.
    for code in ("SYSTEMERROR", "NOTENOUGH"):
        armed = emu.control("POST", "/faults", json={"operation": "v2.unifiedorder", "code": code})
        assert armed.status_code == 201, armed.text
        with pytest.raises(WeChatPayException) as fault:
            create(client)
        assert fault.value.errcode == code and fault.value.return_code == "SUCCESS"
        assert fault.value.errmsg == SEED_001_DES[code]


def test_out_trade_no_used_across_families(
    emulator_process: EmulatorProcess, make_v2: MakeV2, v3api: Callable[[dict[str, Any]], Any]
) -> None:
    merchant = emulator_process.merchant(DEFAULT_MCHID)
    out_trade_no = new_trade_no("X")
    api = v3api(merchant)
    body = api.prepay_body(out_trade_no, "https://127.0.0.1/n", payer=None)
    placed = api.request("POST", "/v3/pay/transactions/native", body)
    assert placed.status_code == 200, placed.text
    with pytest.raises(WeChatPayException) as used:
        create(make_v2(), out_trade_no=out_trade_no)
    assert used.value.errcode == "OUT_TRADE_NO_USED"
    # ... and APIv2's query sees the v3 order: one store, one state machine.
    assert make_v2().order.query(out_trade_no=out_trade_no)["trade_state"] == "NOTPAY"


def test_partner_mode(emulator_process: EmulatorProcess, make_v2: MakeV2, emu: Emu) -> None:
    provider = emulator_process.create_merchant()
    sub = emulator_process.create_merchant(sp_mchid=provider["mchid"])
    client = make_v2(provider, sub_mch_id=sub["mchid"], sub_appid=sub["appid"])
    out_trade_no = new_trade_no("SP")
    created = create(client, out_trade_no=out_trade_no, user_id=None, sub_user_id=OPENID)
    assert created["sub_mch_id"] == sub["mchid"] and created["sub_appid"] == sub["appid"]
    emu.pay(mchid=sub["mchid"], out_trade_no=out_trade_no)
    paid = client.order.query(out_trade_no=out_trade_no)
    assert paid["trade_state"] == "SUCCESS" and paid["sub_openid"] == OPENID
    foreign = make_v2(provider, sub_mch_id=DEFAULT_MCHID)
    with pytest.raises(WeChatPayException) as noauth:
        foreign.order.query(out_trade_no=out_trade_no)
    assert noauth.value.errcode in ("NOAUTH", "MCHID_NOT_EXIST")

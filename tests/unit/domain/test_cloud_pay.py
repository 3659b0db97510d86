"""Cloud payments below HTTP: the wire models (seed 001 snake_case, seed 003 camelCase), the error table,
the provider/sub-merchant rules, and the callback bodies each family renders."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.cloud import SEED_001, SEED_003, make_domain_parties
from wxpay_emulator.api.cloud import render
from wxpay_emulator.api.cloud.errors import CLOUD_ERRORS, DESCRIPTIONS, REFUND_NOT_EXIST, cloud_error
from wxpay_emulator.api.cloud.routes import draft_of
from wxpay_emulator.api.cloud.wire import (
    CloudBadRequest,
    FunctionOrderRef,
    FunctionUnifiedOrder,
    HostingOrderRef,
    HostingUnifiedOrder,
    camel_keys,
    format_time,
    parse,
    parse_time,
)
from wxpay_emulator.crypto import v2_sign
from wxpay_emulator.domain.cloud import EndpointKind
from wxpay_emulator.domain.cloud_pay import PROVIDER_MCHID, CloudPayService, ensure_provider
from wxpay_emulator.domain.errors import DomainError, ErrorCode
from wxpay_emulator.domain.models import PaymentResult
from wxpay_emulator.domain.services import Domain

APP = "wxd2565e6a04246fd1"
# Seed 001's error table, plus v2 orderquery's ORDERNOTEXIST.
SEED_CODES = {
    "INVALID_REQUEST": "参数错误",
    "NOAUTH": "商户无此接口权限",
    "NOTENOUGH": "余额不足",
    "ORDERPAID": "商户订单已支付",
    "ORDERCLOSED": "订单已关闭",
    "SYSTEMERROR": "系统错误",
    "MCHID_NOT_EXIST": "MCHID不存在",
    "APPID_MCHID_NOT_MATCH": "appid和mch_id不匹配",
    "LACK_PARAMS": "缺少参数",
    "OUT_TRADE_NO_USED": "商户订单号重复",
    "SIGNERROR": "签名错误",
    "POST_DATA_EMPTY": "post数据为空",
    "NOT_UTF8": "编码格式错误",
    "ORDERNOTEXIST": "此交易订单号不存在",
    # v2 refund / refundquery's (the cloud refunds answer them)
    "ERROR": "业务错误",
    "TRADE_OVERDUE": "订单已经超过退款期限",
    "REFUNDNOTEXIST": "退款订单查询失败",
    "PARAM_ERROR": "参数错误",  # queryrefund: an offset past total_refund_count
}


def raw(data: object) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode()


# --- wire ----------------------------------------------------------------------------------------------


def test_seed_examples_parse() -> None:
    hosting = parse(HostingUnifiedOrder, raw(SEED_001))
    assert hosting.total_fee == 1 and hosting.trade_type == "JSAPI" and hosting.fee_type == "CNY"
    assert hosting.callback() == ("container", "pay", "/")
    assert hosting.extras() == {"spbill_create_ip": "59.37.125.120"}
    fn = parse(FunctionUnifiedOrder, raw(SEED_003))
    assert (fn.sub_mch_id, fn.out_trade_no, fn.env_id, fn.function_name) == (
        "1900009231",
        "1217752501201407033233368018",
        "test-f0b102",
        "pay_cb",
    )
    # Each family reads only its own names.
    with pytest.raises(CloudBadRequest) as snake:
        parse(FunctionUnifiedOrder, raw(SEED_001))
    assert snake.value.code == "LACK_PARAMS"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"", "POST_DATA_EMPTY"),
        (b"  \n", "POST_DATA_EMPTY"),
        (b"\xff\xfe", "NOT_UTF8"),
        (b"{", None),
        (b"[]", None),
        (b"null", None),
        (raw({**SEED_001, "total_fee": "1"}), "INVALID_REQUEST"),
        (raw({**SEED_001, "total_fee": 0}), "INVALID_REQUEST"),
        (raw({**SEED_001, "total_fee": 2**31}), "INVALID_REQUEST"),
        (raw({**SEED_001, "fee_type": "USD"}), "INVALID_REQUEST"),
        (raw({**SEED_001, "time_expire": "2021-01-01"}), "INVALID_REQUEST"),
        (raw({**SEED_001, "callback_type": 3}), "INVALID_REQUEST"),
        (raw({**SEED_001, "body": "a\x00b"}), "INVALID_REQUEST"),
        (raw({**SEED_001, "total_fee": "x", "body": None}), "LACK_PARAMS"),  # missing wins
        (raw({k: v for k, v in SEED_001.items() if k != "sub_mch_id"}), "LACK_PARAMS"),
        # seed 001's rules (issue 10, item 3)
        (raw({k: v for k, v in SEED_001.items() if k != "callback_type"}), "LACK_PARAMS"),
        (raw({**SEED_001, "out_trade_no": "abc|def1"}), "INVALID_REQUEST"),
        (raw({**SEED_001, "out_trade_no": "abc@def1"}), "INVALID_REQUEST"),
        (raw({**SEED_001, "out_trade_no": "abc*def1"}), "INVALID_REQUEST"),
        (raw({**SEED_001, "spbill_create_ip": "not-an-ip"}), "INVALID_REQUEST"),
        (raw({**SEED_001, "spbill_create_ip": "1.2.3.256"}), "INVALID_REQUEST"),
        (raw({**SEED_001, "time_start": "20301301000000"}), "INVALID_REQUEST"),
        (raw({**SEED_001, "time_expire": "20300230000000"}), "INVALID_REQUEST"),
        (raw({**SEED_001, "scene_info": "not json"}), "INVALID_REQUEST"),
        (raw({**SEED_001, "scene_info": "[1, 2]"}), "INVALID_REQUEST"),
        (
            json.dumps({**SEED_001, "scene_info": {"store_info": {"id": "\ud800"}}}).encode(),
            "INVALID_REQUEST",
        ),
    ],
)
def test_refusals(body: bytes, code: str | None) -> None:
    with pytest.raises(CloudBadRequest) as caught:
        parse(HostingUnifiedOrder, body)
    assert caught.value.code == code


def test_callback_choice() -> None:
    without_type = {k: v for k, v in SEED_001.items() if k != "callback_type"}
    with pytest.raises(CloudBadRequest) as missing:  # seed 001: callback_type 必填 是
        parse(HostingUnifiedOrder, raw(without_type))
    assert missing.value.code == "LACK_PARAMS" and "callback_type" in missing.value.message
    assert parse(HostingUnifiedOrder, raw(SEED_001)).callback()[0] == "container"
    function = {**without_type, "container": None, "function_name": "paycb", "callback_type": 1}
    assert parse(HostingUnifiedOrder, raw(function)).callback() == ("function", "paycb", "")
    for lacking in ({**SEED_001, "container": None}, {**function, "function_name": None}):
        with pytest.raises(CloudBadRequest) as caught:
            parse(HostingUnifiedOrder, raw(lacking)).callback()
        assert caught.value.code == "LACK_PARAMS"


@pytest.mark.parametrize(
    "changes",
    [
        {"out_trade_no": "Ab_-0123456789"},
        {"spbill_create_ip": "2001:db8::1"},
        {"time_start": "20240229235959"},
        {"scene_info": '{"store_info":{"id":"SZTX001"}}'},
        {"scene_info": {"store_info": {"id": "SZTX001"}}},
    ],
)
def test_documented_forms_are_taken(changes: dict[str, object]) -> None:
    parsed = parse(HostingUnifiedOrder, raw({**SEED_001, **changes}))
    if "scene_info" in changes:  # both forms are stored alike: the object
        assert parsed.extras()["scene_info"] == {"store_info": {"id": "SZTX001"}}


def test_order_refs() -> None:
    assert parse(HostingOrderRef, raw({"sub_mch_id": "1", "transaction_id": "42"})).transaction_id == "42"
    assert parse(FunctionOrderRef, raw({"subMchId": "1", "outTradeNo": "T1"})).out_trade_no == "T1"
    with pytest.raises(CloudBadRequest) as caught:
        parse(FunctionOrderRef, raw({"subMchId": "1"}))
    assert caught.value.code == "LACK_PARAMS" and "outTradeNo" in caught.value.message


def test_times_and_names() -> None:
    moment = parse_time("20091225091010", "time_expire")
    assert moment.isoformat() == "2009-12-25T01:10:10+00:00"
    assert format_time(moment) == "20091225091010"
    assert camel_keys(
        {"mch_id": 1, "sub_appid": 2, "err_code_des": 3, "appid": 4, "payment": {"appId": 5}}
    ) == {
        "mchId": 1,
        "subAppid": 2,
        "errCodeDes": 3,
        "appid": 4,
        "payment": {"appId": 5},
    }


def test_every_domain_code_answers_a_seed_code() -> None:
    """Every code answers one of the seed's (or v2 refund's) codes; one without a row SYSTEMERROR."""
    assert set(CLOUD_ERRORS) >= {ErrorCode.ORDER_PAID, ErrorCode.NO_AUTH, ErrorCode.MCH_NOT_EXISTS}
    assert cloud_error(ErrorCode.REFUND_PERIOD_EXPIRED) == ("TRADE_OVERDUE", "订单已经超过退款期限")
    for code, des in [*(cloud_error(c) for c in ErrorCode), *DESCRIPTIONS.items(), REFUND_NOT_EXIST]:
        assert SEED_CODES[code] == des, code


# --- domain --------------------------------------------------------------------------------------------


@pytest.mark.both_databases
def test_provider_rules_and_callback_bodies(domain: Domain) -> None:
    parties = make_domain_parties(domain, APP)
    provider, sub, plain = parties.provider, parties.sub, parties.plain
    assert provider.mchid == PROVIDER_MCHID and ensure_provider(domain.merchants) == provider
    assert sub.sp_mchid == PROVIDER_MCHID and plain.sp_mchid is None
    service = CloudPayService(domain.merchants, domain.orders)
    request = parse(HostingUnifiedOrder, raw({**SEED_001, "sub_mch_id": sub.mchid}))

    for sub_mchid, caller, code in (
        ("1999999990", APP, ErrorCode.MCH_NOT_EXISTS),
        (plain.mchid, APP, ErrorCode.NO_AUTH),
        (sub.mchid, "wx0000000000000bad", ErrorCode.APPID_MCHID_NOT_MATCH),
    ):
        other = request.model_copy(update={"sub_mch_id": sub_mchid})
        with pytest.raises(DomainError) as caught:
            service.place(draft_of(other, provider, caller))
        assert caught.value.code is code

    order = service.place(draft_of(request, provider, APP))
    assert order.family == "cloud" and order.notify_url == "cloud+container://prod-66733tes755tabc/pay/"
    assert (order.sp_mchid, order.mchid, order.sub_appid) == (PROVIDER_MCHID, sub.mchid, APP)
    assert service.place(draft_of(request, provider, APP)).prepay_id == order.prepay_id
    with pytest.raises(DomainError) as used:
        service.place(draft_of(request.model_copy(update={"total_fee": 2}), provider, APP))
    assert used.value.code is ErrorCode.OUT_TRADE_NO_USED

    answer = render.unified_order(order, provider, domain.ids)
    v2_sign.verify({k: str(v) for k, v in answer.items() if k != "payment"}, provider.api_key, answer["sign"])
    pay = answer["payment"]
    paid = domain.request_payment(
        app_id=pay["appId"],
        time_stamp=pay["timeStamp"],
        nonce_str=pay["nonceStr"],
        package=pay["package"],
        sign_type=pay["signType"],
        pay_sign=pay["paySign"],
    )
    assert paid.transaction_id is not None

    fn_request = parse(FunctionUnifiedOrder, raw({**SEED_003, "subMchId": sub.mchid}))
    fn_order = service.place(draft_of(fn_request, provider, APP))
    assert fn_order.family == "cloudfn" and fn_order.notify_url == "cloud+function://test-f0b102/pay_cb"
    domain.orders.pay(result=PaymentResult.SUCCESS, prepay_id=fn_order.prepay_id)

    bodies = {n.family: json.loads(n.body) for n, _ in domain.notifications.list()}
    hosting, function = bodies["cloud"], bodies["cloudfn"]
    # Both callbacks are camelCase (the cloud-hosting callback page's keys).
    assert hosting["transactionId"] == paid.transaction_id and hosting["subMchId"] == sub.mchid
    assert hosting["openid"] == hosting["subOpenid"] == SEED_001["openid"]
    assert function["outTradeNo"] == SEED_003["outTradeNo"] and function["mchId"] == PROVIDER_MCHID
    assert function["openid"] == function["subOpenid"] and function["totalFee"] == 1
    assert "sign" not in hosting and "sign" not in function

    with pytest.raises(DomainError) as paid_close:
        service.close(sub.mchid, None, paid.transaction_id)
    assert paid_close.value.code is ErrorCode.ORDER_PAID
    assert service.find(sub.mchid, None, paid.transaction_id).id == order.id


@pytest.mark.both_databases
def test_concurrent_registrations_of_one_endpoint(domain: Domain) -> None:
    """One upsert statement: racing registrations end in one of their URLs, never an IntegrityError."""
    barrier = threading.Barrier(10)
    urls = [f"http://127.0.0.1:{9000 + i}/cb" for i in range(10)]

    def register(url: str) -> None:
        barrier.wait(10)
        domain.cloud.register(EndpointKind.CONTAINER, "env-race", "svc", url)

    with ThreadPoolExecutor(10) as pool:
        list(pool.map(register, urls))
    assert domain.cloud.get(EndpointKind.CONTAINER, "env-race", "svc").url in urls

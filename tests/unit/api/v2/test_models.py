"""APIv2 unifiedorder validation (api/v2/models.py): one error per answer, in WeChat's order."""

from __future__ import annotations

import pytest

from wxpay_emulator.api.v2.errors import V2Error
from wxpay_emulator.api.v2.models import parse_unifiedorder

GOOD = {
    "appid": "wxd678efh567hg6787",
    "body": "腾讯充值中心-QQ会员充值",
    "out_trade_no": "20150806125346",
    "total_fee": "88",
    "spbill_create_ip": "123.12.12.123",
    "notify_url": "http://www.weixin.qq.com/wxpay/pay.php",
    "trade_type": "JSAPI",
    "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
}


def refused(**changes: str | None) -> tuple[str, str]:
    fields = {k: v for k, v in {**GOOD, **changes}.items() if v is not None}
    with pytest.raises(V2Error) as caught:
        parse_unifiedorder(fields)
    return caught.value.code, caught.value.message


def test_a_good_request_is_read() -> None:
    req = parse_unifiedorder({**GOOD, "time_expire": "20991231235959", "fee_type": "", "attach": "a"})
    assert (req.total_fee, req.trade_type, req.fee_type, req.attach) == (88, "JSAPI", None, "a")
    assert req.expire_at is not None and req.expire_at.year == 2099


def test_the_first_missing_required_field_is_named_before_anything_else() -> None:
    assert refused(out_trade_no=None, body="x" * 129, total_fee="0") == (
        "LACK_PARAMS",
        "缺少参数out_trade_no",
    )
    assert refused(notify_url="", trade_type=None) == ("LACK_PARAMS", "缺少参数notify_url")


def test_lengths_come_before_formats_in_the_page_order() -> None:
    code, message = refused(body="x" * 129, device_info="d" * 33, total_fee="-1")
    assert (code, message) == ("INVALID_REQUEST", "device_info参数长度有误，不能超过32个字符")
    assert refused(receipt="Y" * 9)[1] == "receipt参数长度有误，不能超过8个字符"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"out_trade_no": "a b", "total_fee": "x"}, "out_trade_no参数格式错误"),
        ({"total_fee": "100000000001", "trade_type": "X"}, "total_fee参数格式错误"),
        ({"total_fee": "²"}, "total_fee参数格式错误"),
        ({"trade_type": "X", "fee_type": "USD"}, "trade_type参数错误，取值为JSAPI、NATIVE、APP、MWEB"),
        ({"fee_type": "USD", "notify_url": "ftp://x"}, "fee_type参数错误"),
        ({"notify_url": "https://x/?a=1"}, "notify_url参数格式错误"),
        ({"sub_openid": "o", "time_start": "bad"}, "传sub_openid时须同时传sub_mch_id和sub_appid"),
        ({"time_start": "2024"}, "time_start参数格式错误，须为yyyyMMddHHmmss"),
    ],
)
def test_formats_then_combinations_then_times(changes: dict[str, str], expected: str) -> None:
    code, message = refused(**changes)
    assert code == "INVALID_REQUEST" and message.startswith(expected)


def test_combinations_name_the_missing_field() -> None:
    assert refused(openid=None, time_start="bad")[1].startswith("缺少参数openid")
    assert refused(trade_type="NATIVE")[1].startswith("缺少参数product_id")
    assert refused(trade_type="MWEB") == (
        "LACK_PARAMS",
        "缺少参数scene_info: trade_type=MWEB时scene_info为必填参数",
    )


def test_nonce_str_is_at_most_32_characters() -> None:
    # Seed 001's table (APIv2's unified order fields): 随机字符串 | nonce_str | 是 | String(32) |
    # 随机字符串,不长于32位.
    assert parse_unifiedorder({**GOOD, "nonce_str": "n" * 32}).body == GOOD["body"]
    assert refused(nonce_str="n" * 33) == ("INVALID_REQUEST", "nonce_str参数长度有误，不能超过32个字符")
    # In the page's order: device_info, then nonce_str, then body.
    assert refused(nonce_str="n" * 33, body="x" * 129)[1].startswith("nonce_str参数长度有误")
    assert refused(nonce_str="n" * 33, device_info="d" * 33)[1].startswith("device_info参数长度有误")

"""``POST /emulator/v1/request-payment`` stands for wx.requestPayment, which reads the keys it knows and
ignores the others: tenpay's ``getPayParams`` (npm, APIv2) answers the JSAPI parameters plus a lower-case
``timestamp`` copy for the JSSDK's ``chooseWXPay``, and merchants hand that object to wx.requestPayment
as it is. A missing key it needs still answers 400."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.support.common import OPENID
from tests.support.inproc import InProcEmulator
from tests.support.v2 import order_fields, v2_md5


def jsapi_prepay_id(inproc: InProcEmulator, merchant: dict[str, Any], out_trade_no: str) -> str:
    fields = order_fields(
        appid=merchant["appid"],
        mch_id=merchant["mchid"],
        out_trade_no=out_trade_no,
        trade_type="JSAPI",
        openid=OPENID,
    )
    fields["sign"] = v2_md5(fields, merchant["api_key"])
    xml = "<xml>" + "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in fields.items()) + "</xml>"
    answer = inproc.http.post(inproc.url + "/pay/unifiedorder", content=xml.encode())
    found = re.search(r"<prepay_id><!\[CDATA\[(wx\w+)\]\]></prepay_id>", answer.text)
    assert found, answer.text
    return found.group(1)


def tenpay_pay_params(merchant: dict[str, Any], prepay_id: str) -> dict[str, str]:
    """What tenpay 2.1.18's getPayParamsByPrepay returns, keys in its order."""
    params = {
        "appId": merchant["appid"],
        "timeStamp": "1796093694",
        "nonceStr": "Xq3PZ9mV0bKc7TfA",
        "package": f"prepay_id={prepay_id}",
        "signType": "MD5",
    }
    params["paySign"] = v2_md5(params, merchant["api_key"])  # tenpay's _getSign is the same rule
    params["timestamp"] = params["timeStamp"]
    return params


def test_tenpays_pay_params_pay_the_order_as_wx_request_payment_would(inproc: InProcEmulator) -> None:
    merchant = inproc.create_merchant(key_mode="pubkey")
    params = tenpay_pay_params(merchant, jsapi_prepay_id(inproc, merchant, "TENPAYRP0001"))
    answer = inproc.http.post(
        inproc.url + "/emulator/v1/request-payment",
        content=json.dumps(params, ensure_ascii=False, separators=(",", ":")).encode(),
        headers={"content-type": "application/json"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["errMsg"] == "requestPayment:ok"
    assert answer.json()["transaction"]["trade_state"] == "SUCCESS"


def test_a_missing_key_is_still_refused(inproc: InProcEmulator) -> None:
    merchant = inproc.create_merchant(key_mode="pubkey")
    params = tenpay_pay_params(merchant, jsapi_prepay_id(inproc, merchant, "TENPAYRP0002"))
    del params["timeStamp"]  # only the lower-case copy left
    answer = inproc.http.post(inproc.url + "/emulator/v1/request-payment", json=params)
    assert answer.status_code == 400, answer.text
    assert "timeStamp" in answer.json()["message"]
    query = inproc.http.get(inproc.url + "/emulator/v1/orders", params={"mchid": merchant["mchid"]})
    assert query.json()["data"][0]["transaction"]["trade_state"] == "NOTPAY", query.text

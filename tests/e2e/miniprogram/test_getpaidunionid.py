"""Mini Program server API (seed 000) against the real emulator process, with httpx and wechatpayv3:
/cgi-bin/token, /cgi-bin/stable_token, /wxa/getpaidunionid and the apps / users control plane."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from wechatpayv3 import WeChatPayType

from tests.support.common import new_trade_no
from tests.support.emulator import Emu
from tests.support.receiver import Receiver
from tests.support.sdk import build_wxpay
from wxpay_emulator.testing import EmulatorProcess

SECOND_APPID = "wx" + secrets.token_hex(8)


@pytest.fixture(scope="module")
def mp_merchant(emulator_process: EmulatorProcess) -> dict[str, Any]:
    """A merchant with two Mini Programs (so one open-platform account)."""
    return emulator_process.create_merchant(key_mode="pubkey", appids=[SECOND_APPID])


def secrets_of(emu: Emu, mchid: str) -> dict[str, str]:
    response = emu.control("GET", f"/merchants/{mchid}")
    assert response.status_code == 200, response.text
    return {a["appid"]: a["secret"] for a in response.json()["apps"]}


def get(emu: Emu, path: str, **params: str) -> dict[str, Any]:
    response = emu.http.get(emu.url + path, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    return body


def token(emu: Emu, appid: str, secret: str) -> str:
    body = get(emu, "/cgi-bin/token", grant_type="client_credential", appid=appid, secret=secret)
    assert set(body) == {"access_token", "expires_in"} and body["expires_in"] == 7200, body
    return str(body["access_token"])


def unionid(emu: Emu, access_token: str, openid: str, **lookup: str) -> dict[str, Any]:
    return get(emu, "/wxa/getpaidunionid", access_token=access_token, openid=openid, **lookup)


def new_user(emu: Emu, *appids: str) -> dict[str, Any]:
    response = emu.control("POST", "/users", json={"appids": list(appids)})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def place_and_pay(emu: Emu, merchant: dict[str, Any], receiver: Receiver, appid: str, openid: str) -> str:
    """A JSAPI order placed with wechatpayv3 in ``appid`` and paid by ``openid``; its out_trade_no."""
    wxpay = build_wxpay(emu.url, merchant, receiver.url)
    out_trade_no = new_trade_no("MP")
    code, text = wxpay.pay(
        description="小程序订单",
        out_trade_no=out_trade_no,
        amount={"total": 1},
        payer={"openid": openid},
        appid=appid,
        pay_type=WeChatPayType.MINIPROG,
    )
    assert code == 200, text
    paid = emu.pay(mchid=merchant["mchid"], out_trade_no=out_trade_no, openid=openid)
    assert paid.status_code == 200, paid.text
    return out_trade_no


def transaction_id(emu: Emu, out_trade_no: str) -> str:
    [order] = emu.orders_with(out_trade_no)
    return str(order["transaction"]["transaction_id"])


def test_apps_and_tokens(emu: Emu, mp_merchant: dict[str, Any]) -> None:
    appid = mp_merchant["appid"]
    known = secrets_of(emu, mp_merchant["mchid"])
    assert set(known) == {appid, SECOND_APPID}
    listed = emu.control("GET", "/apps").json()["data"]
    mine = {a["appid"]: a for a in listed if a["appid"] in known}
    assert {a["open_account"] for a in mine.values()} == {f"open_{mp_merchant['mchid']}"}
    assert all(a["secret"] == known[a["appid"]] for a in mine.values())

    first = token(emu, appid, known[appid])
    assert token(emu, appid, known[appid]) != first
    bad = {
        (("grant_type", "password"), ("appid", appid), ("secret", known[appid])): (
            40002,
            "invalid grant_type",
        ),
        (("grant_type", "client_credential"), ("secret", known[appid])): (41002, "appid missing"),
        (("grant_type", "client_credential"), ("appid", appid)): (41004, "appsecret missing"),
        (("grant_type", "client_credential"), ("appid", "wxnope"), ("secret", "x")): (40013, "invalid appid"),
        (("grant_type", "client_credential"), ("appid", appid), ("secret", "0" * 32)): (
            40125,
            "invalid appsecret",
        ),
    }
    for params, (errcode, errmsg) in bad.items():
        assert get(emu, "/cgi-bin/token", **dict(params)) == {"errcode": errcode, "errmsg": errmsg}

    # stable_token: the same token while valid, a new one when forced; separate from /cgi-bin/token.
    body = {"grant_type": "client_credential", "appid": appid, "secret": known[appid]}
    stable = emu.http.post(emu.url + "/cgi-bin/stable_token", json=body).json()
    assert stable["expires_in"] == 7200 and stable["access_token"] != first
    emu.control("POST", "/clock", json={"advance_seconds": 60})
    same = emu.http.post(emu.url + "/cgi-bin/stable_token", json=body).json()
    assert same["access_token"] == stable["access_token"] and 7138 <= same["expires_in"] <= 7140
    forced = emu.http.post(emu.url + "/cgi-bin/stable_token", json={**body, "force_refresh": True}).json()
    assert forced["access_token"] != stable["access_token"] and forced["expires_in"] == 7200
    wrong = emu.http.post(emu.url + "/cgi-bin/stable_token", json={**body, "secret": "nope"})
    assert (wrong.status_code, wrong.json()["errcode"]) == (200, 40125)
    garbled = emu.http.post(
        emu.url + "/cgi-bin/stable_token", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert (garbled.status_code, garbled.json()["errcode"]) == (200, 47001)

    # Framework answers in the family's shape.
    assert emu.http.post(emu.url + "/cgi-bin/token").json() == {
        "errcode": 43001,
        "errmsg": "require GET method",
    }
    assert emu.http.get(emu.url + "/cgi-bin/stable_token").json()["errcode"] == 43002
    unknown = emu.http.get(emu.url + "/wxa/getwxacode")
    assert unknown.status_code == 404 and unknown.json()["errcode"] == 40066


def test_standalone_app_from_the_control_plane(emu: Emu) -> None:
    appid = "wx" + secrets.token_hex(8)
    made = emu.control("POST", "/apps", json={"appid": appid, "secret": "f" * 32})
    assert made.status_code == 200, made.text
    assert made.json() == {"appid": appid, "secret": "f" * 32, "open_account": f"open_{appid}"}
    assert emu.control("GET", f"/apps/{appid}").json()["secret"] == "f" * 32
    assert emu.control("GET", "/apps/wxmissing").status_code == 404
    token(emu, appid, "f" * 32)


def test_getpaidunionid_by_both_lookups_until_five_minutes_pass(
    emu: Emu, mp_merchant: dict[str, Any], receiver: Receiver
) -> None:
    appid, mchid = mp_merchant["appid"], mp_merchant["mchid"]
    user = new_user(emu, appid)
    assert emu.control("GET", f"/users/{user['user_id']}").json() == user
    openid, expected = user["openids"][appid], user["unionids"][f"open_{mchid}"]
    assert len(openid) == len(expected) == 28 and expected.startswith("o")
    out_trade_no = place_and_pay(emu, mp_merchant, receiver, appid, openid)
    access_token = token(emu, appid, secrets_of(emu, mchid)[appid])
    ok = {"unionid": expected, "errcode": 0, "errmsg": "ok"}
    assert unionid(emu, access_token, openid, transaction_id=transaction_id(emu, out_trade_no)) == ok
    assert unionid(emu, access_token, openid, mch_id=mchid, out_trade_no=out_trade_no) == ok
    emu.control("POST", "/clock", json={"advance_seconds": 301})
    late = unionid(emu, access_token, openid, mch_id=mchid, out_trade_no=out_trade_no)
    assert late == {"errcode": 89300, "errmsg": "invalid trade"}


def test_one_user_has_one_unionid_across_two_apps(
    emu: Emu, mp_merchant: dict[str, Any], receiver: Receiver
) -> None:
    appid, mchid = mp_merchant["appid"], mp_merchant["mchid"]
    user = new_user(emu, appid, SECOND_APPID)
    assert user["openids"][appid] != user["openids"][SECOND_APPID]
    known = secrets_of(emu, mchid)
    got = set()
    for app in (appid, SECOND_APPID):
        out_trade_no = place_and_pay(emu, mp_merchant, receiver, app, user["openids"][app])
        answer = unionid(
            emu, token(emu, app, known[app]), user["openids"][app], mch_id=mchid, out_trade_no=out_trade_no
        )
        assert answer["errcode"] == 0, answer
        got.add(answer["unionid"])
    assert got == {user["unionids"][f"open_{mchid}"]}


@pytest.mark.parametrize("lookup", ["transaction_id", "mch_id+out_trade_no"])
def test_every_error_code(emu: Emu, mp_merchant: dict[str, Any], receiver: Receiver, lookup: str) -> None:
    appid, mchid = mp_merchant["appid"], mp_merchant["mchid"]
    stranger = "o" + secrets.token_urlsafe(20)[:27]  # an openid the merchant made up
    out_trade_no = place_and_pay(emu, mp_merchant, receiver, appid, stranger)
    tx = transaction_id(emu, out_trade_no)
    access_token = token(emu, appid, secrets_of(emu, mchid)[appid])
    someone_else = new_user(emu, appid)["openids"][appid]
    if lookup == "transaction_id":
        trade, unknown_trade = {"transaction_id": tx}, {"transaction_id": "4" * 28}
    else:
        trade = {"mch_id": mchid, "out_trade_no": out_trade_no}
        unknown_trade = {"mch_id": mchid, "out_trade_no": "NOSUCHORDER"}

    def answer(**params: str) -> dict[str, Any]:
        return get(emu, "/wxa/getpaidunionid", **params)

    assert answer(openid=stranger, **trade) == {"errcode": 41001, "errmsg": "access_token missing"}
    assert answer(access_token="bogus", openid=stranger, **trade)["errcode"] == 40001
    assert answer(access_token=access_token, openid="oNotAUserOfThisApp000000000", **trade) == {
        "errcode": 40003,
        "errmsg": "invalid openid",
    }
    assert answer(access_token=access_token, openid=someone_else, **trade)["errcode"] == 89300
    assert answer(access_token=access_token, openid=stranger, **unknown_trade)["errcode"] == 89300
    assert answer(access_token=access_token, openid=stranger, **trade)["errcode"] == 0

    unbound = emu.control("POST", "/apps", json={"appid": appid, "open_account": None})
    assert unbound.status_code == 200 and unbound.json()["open_account"] is None
    try:
        assert answer(access_token=access_token, openid=stranger, **trade) == {
            "errcode": 89002,
            "errmsg": "open not exists",
        }
    finally:
        emu.control("POST", "/apps", json={"appid": appid, "open_account": f"open_{mchid}"})
    assert answer(access_token=access_token, openid=stranger, **trade)["errcode"] == 0


def test_tokens_expire_after_two_hours_and_overlap_five_minutes(
    emu: Emu, mp_merchant: dict[str, Any]
) -> None:
    appid = mp_merchant["appid"]
    secret = secrets_of(emu, mp_merchant["mchid"])[appid]
    old = token(emu, appid, secret)
    new = token(emu, appid, secret)

    def code(access_token: str) -> int:
        # An unknown openid gets past the token check only with a valid token (40003, not 40001).
        return int(unionid(emu, access_token, "oNobody0000000000000000000000", transaction_id="1")["errcode"])

    assert code(old) == code(new) == 40003
    emu.control("POST", "/clock", json={"advance_seconds": 301})
    assert (code(old), code(new)) == (40001, 40003)
    emu.control("POST", "/clock", json={"advance_seconds": 7200 - 301})
    assert code(new) == 40001
    assert code(token(emu, appid, secret)) == 40003

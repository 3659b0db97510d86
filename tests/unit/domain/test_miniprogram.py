"""Mini Program domain (seed 000): apps, access tokens, users, getPaidUnionid; SQLite and PostgreSQL."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.domain import paid_order
from wxpay_emulator.app import build_domain
from wxpay_emulator.config import Settings
from wxpay_emulator.domain.miniprogram import MiniProgramError, openid_for, unionid_for
from wxpay_emulator.domain.models import Merchant, OrderDraft
from wxpay_emulator.domain.services import Domain
from wxpay_emulator.storage.db import Store

OPENID_SHAPE = re.compile(r"^o[0-9A-Za-z_-]{27}$")


def errcode(exc: pytest.ExceptionInfo[MiniProgramError]) -> int:
    return exc.value.errcode


def token_for(domain: Domain, appid: str) -> str:
    app = domain.miniprogram.app(appid)
    assert app is not None
    return domain.miniprogram.issue_token("client_credential", appid, app.secret).access_token


@pytest.mark.both_databases
def test_bound_apps_get_stable_hex_secrets_and_the_merchants_open_account(
    domain: Domain, merchant: Merchant, settings: Settings, store: Store
) -> None:
    apps = domain.miniprogram.apps_of(merchant)
    assert [a.appid for a in apps] == [merchant.appid, *merchant.appids]
    own = apps[0]
    assert re.fullmatch(r"[0-9a-f]{32}", own.secret)
    assert own.open_account == f"open_{merchant.mchid}"
    assert {a.appid for a in domain.miniprogram.apps()} >= {merchant.appid, *merchant.appids}
    assert domain.miniprogram.app("wxnotboundanywhere") is None
    # A second process on the same store (a restart) sees the same secret.
    again = build_domain(store, settings)
    assert again.miniprogram.app(merchant.appid) == own


def test_put_app_creates_changes_and_unbinds(domain: Domain, merchant: Merchant) -> None:
    made = domain.miniprogram.put_app("wxstandalone0001", secret="abc123")
    assert (made.secret, made.open_account) == ("abc123", "open_wxstandalone0001")
    changed = domain.miniprogram.put_app(merchant.appid, open_account=None)
    assert changed.open_account is None and re.fullmatch(r"[0-9a-f]{32}", changed.secret)
    kept = domain.miniprogram.put_app(merchant.appid, secret="s3cr3t")
    assert (kept.secret, kept.open_account) == ("s3cr3t", None)


def test_token_errors(domain: Domain, merchant: Merchant) -> None:
    mp = domain.miniprogram
    secret = mp.apps_of(merchant)[0].secret
    cases = [
        (("authorization_code", merchant.appid, secret), 40002),
        ((None, merchant.appid, secret), 40002),
        (("client_credential", None, secret), 41002),
        (("client_credential", "", secret), 41002),
        (("client_credential", merchant.appid, None), 41004),
        (("client_credential", "wxunknown", secret), 40013),
        (("client_credential", merchant.appid, secret[::-1]), 40125),
    ]
    for args, code in cases:
        with pytest.raises(MiniProgramError) as info:
            mp.issue_token(*args)
        assert errcode(info) == code, args
    with pytest.raises(MiniProgramError) as info:
        mp.stable_token("client_credential", merchant.appid, "wrong")
    assert errcode(info) == 40125


@pytest.mark.both_databases
def test_new_token_leaves_the_previous_valid_five_minutes_and_tokens_expire(
    domain: Domain, merchant: Merchant
) -> None:
    mp = domain.miniprogram
    first = token_for(domain, merchant.appid)
    second = token_for(domain, merchant.appid)
    assert first != second and len(first) > 100
    assert mp.token_app(first) == mp.token_app(second) == merchant.appid
    domain.advance_clock(301)
    with pytest.raises(MiniProgramError) as info:
        mp.token_app(first)
    assert errcode(info) == 40001
    assert mp.token_app(second) == merchant.appid
    domain.advance_clock(7200 - 301)
    with pytest.raises(MiniProgramError) as info:
        mp.token_app(second)
    assert errcode(info) == 40001
    for missing in (None, ""):
        with pytest.raises(MiniProgramError) as info:
            mp.token_app(missing)
        assert errcode(info) == 41001


def test_stable_token_is_reused_until_forced(domain: Domain, merchant: Merchant) -> None:
    mp = domain.miniprogram
    secret = mp.apps_of(merchant)[0].secret
    first = mp.stable_token("client_credential", merchant.appid, secret)
    assert first.expires_in == 7200
    domain.advance_clock(100)
    again = mp.stable_token("client_credential", merchant.appid, secret)
    assert again.access_token == first.access_token and 7098 <= again.expires_in <= 7100
    # /cgi-bin/token does not touch the stable token.
    token_for(domain, merchant.appid)
    assert mp.token_app(first.access_token) == merchant.appid
    forced = mp.stable_token("client_credential", merchant.appid, secret, force_refresh=True)
    assert forced.access_token != first.access_token and forced.expires_in == 7200
    with pytest.raises(MiniProgramError):
        mp.token_app(first.access_token)
    domain.advance_clock(7200)
    renewed = mp.stable_token("client_credential", merchant.appid, secret)
    assert renewed.access_token != forced.access_token and renewed.expires_in == 7200


def test_users_have_one_openid_per_app_and_one_unionid_per_open_account(
    domain: Domain, merchant: Merchant
) -> None:
    mp = domain.miniprogram
    other = merchant.appids[0]
    user = mp.create_user([merchant.appid, other, "wxnoapp"])
    assert set(user.openids) == {merchant.appid, other, "wxnoapp"}
    assert all(OPENID_SHAPE.match(o) for o in user.openids.values())
    assert len(set(user.openids.values())) == 3
    assert user.openids[merchant.appid] == openid_for(user.user_id, merchant.appid)
    unionid = user.unionids[f"open_{merchant.mchid}"]
    assert OPENID_SHAPE.match(unionid) and unionid == unionid_for(user.user_id, f"open_{merchant.mchid}")
    assert mp.user(user.user_id) == user
    assert mp.user("u_nobody") is None


@pytest.mark.both_databases
def test_paid_unionid_within_five_minutes_by_both_lookups(domain: Domain, merchant: Merchant) -> None:
    mp = domain.miniprogram
    user = mp.create_user([merchant.appid])
    openid = user.openids[merchant.appid]
    order = paid_order(domain, merchant, "MP0001", payer_openid=openid, description="QQ公仔")
    token = token_for(domain, merchant.appid)
    expected = user.unionids[f"open_{merchant.mchid}"]
    assert mp.paid_unionid(token, openid, transaction_id=order.transaction_id) == expected
    assert mp.paid_unionid(token, openid, mch_id=merchant.mchid, out_trade_no="MP0001") == expected
    domain.advance_clock(301)
    with pytest.raises(MiniProgramError) as info:
        mp.paid_unionid(token, openid, transaction_id=order.transaction_id)
    assert errcode(info) == 89300


def test_paid_unionid_errors(domain: Domain, merchant: Merchant) -> None:
    mp = domain.miniprogram
    stranger = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"  # an openid the merchant made up: a user on first sight
    order = paid_order(domain, merchant, "MP0002", payer_openid=stranger, description="QQ公仔")
    unpaid = domain.orders.place(
        OrderDraft(
            mchid=merchant.mchid,
            appid=merchant.appid,
            out_trade_no="MP0003",
            trade_type="JSAPI",
            description="x",
            total=1,
            currency="CNY",
            notify_url="http://127.0.0.1:1/notify",
            family="v3",
            payer_openid=stranger,
        )
    )
    other_user = mp.create_user([merchant.appid]).openids[merchant.appid]
    token = token_for(domain, merchant.appid)
    tx = order.transaction_id

    def code(*args: str | None, **kw: str | None) -> int:
        with pytest.raises(MiniProgramError) as info:
            mp.paid_unionid(*args, **kw)
        return errcode(info)

    assert code(None, stranger, transaction_id=tx) == 41001
    assert code("nosuchtoken", stranger, transaction_id=tx) == 40001
    assert code(token, None, transaction_id=tx) == 40003
    assert code(token, "oNeverSeenInThisAppxxxxxxxxx", transaction_id=tx) == 40003
    assert code(token, other_user, transaction_id=tx) == 89300  # paid by someone else
    assert code(token, stranger, transaction_id="4200000000000000000000000000") == 89300
    assert code(token, stranger, mch_id=merchant.mchid, out_trade_no=unpaid.out_trade_no) == 89300
    assert code(token, stranger) == 89300  # neither lookup given
    # The stranger's openid became a user: the same unionid every time.
    first = mp.paid_unionid(token, stranger, transaction_id=tx)
    assert mp.paid_unionid(token, stranger, mch_id=merchant.mchid, out_trade_no="MP0002") == first
    # Another app of the merchant sees nothing of this order.
    other_token = token_for(domain, merchant.appids[0])
    assert code(other_token, stranger, transaction_id=tx) == 40003
    # Unbound from the open platform: 89002.
    mp.put_app(merchant.appid, open_account=None)
    assert code(token, stranger, transaction_id=tx) == 89002


def test_stable_token_renews_in_its_last_five_minutes_and_throttles_forced_refresh(
    domain: Domain, merchant: Merchant
) -> None:
    mp = domain.miniprogram
    secret = mp.apps_of(merchant)[0].secret

    def stable(force: bool = False) -> tuple[str, int]:
        issued = mp.stable_token("client_credential", merchant.appid, secret, force_refresh=force)
        return issued.access_token, issued.expires_in

    first, _ = stable()
    domain.advance_clock(10)
    assert stable(force=True)[0] == first  # forced again within 30 s: the current token
    domain.advance_clock(30)
    forced, life = stable(force=True)
    assert forced != first and life == 7200
    with pytest.raises(MiniProgramError):
        mp.token_app(first)  # a forced refresh ends the previous token at once
    domain.advance_clock(7200 - 300 - 10)  # (the business clock also runs in real time meanwhile)
    same, left = stable()
    assert same == forced and 300 < left <= 310
    domain.advance_clock(10)
    renewed, life = stable()  # 300 s left: a new token, and the old one lives out its five minutes
    assert renewed != forced and life == 7200
    assert mp.token_app(forced) == merchant.appid
    domain.advance_clock(300)
    with pytest.raises(MiniProgramError):
        mp.token_app(forced)


@pytest.mark.both_databases
def test_concurrent_stable_tokens_are_one_valid_token(domain: Domain, merchant: Merchant) -> None:
    """PostgreSQL runs these concurrently: the app's row lock makes them one issuer at a time."""
    mp = domain.miniprogram
    secret = mp.apps_of(merchant)[0].secret
    barrier = threading.Barrier(12)

    def call() -> str:
        barrier.wait(10)
        return mp.stable_token("client_credential", merchant.appid, secret).access_token

    with ThreadPoolExecutor(12) as pool:
        tokens = set(pool.map(lambda _: call(), range(12)))
    assert len(tokens) == 1
    assert mp.token_app(tokens.pop()) == merchant.appid


@pytest.mark.both_databases
def test_concurrent_first_put_of_an_app_keeps_each_callers_secret(domain: Domain) -> None:
    barrier = threading.Barrier(8)

    def put(i: int) -> str:
        barrier.wait(10)
        return domain.miniprogram.put_app("wxracingapp00001", secret=f"{i:032x}").secret

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(put, range(8)))
    assert answers == [f"{i:032x}" for i in range(8)]


@pytest.mark.both_databases
def test_losing_the_first_put_race_changes_only_what_was_given(
    domain: Domain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loser of two first puts of an app (its insert did nothing) applies only its own values."""
    mp = domain.miniprogram
    mp.put_app("wxracingapp00002", open_account="acct_X")
    monkeypatch.setattr(type(mp), "_ensure", lambda self, repo, appid: None)  # it saw no app yet
    app = mp.put_app("wxracingapp00002", secret="s" * 32)
    assert app.secret == "s" * 32 and app.open_account == "acct_X"

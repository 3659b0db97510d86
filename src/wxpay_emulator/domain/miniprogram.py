"""Mini Program server API: apps and their AppSecrets, access tokens, simulated users, getPaidUnionid.

Every appid bound to a merchant is an app with a 32-hex AppSecret and, by default, the open-platform
account ``open_<mchid>`` of the oldest merchant it is bound to, so all apps of one merchant share a
unionid space. Apps are made lazily, the first time one is asked for, and kept in ``apps`` so secrets
survive restarts. Time here is the business clock: tokens expire and the getPaidUnionid window closes
when the control plane advances it.

A WeChat user is a ``user_id``; its openid in an app is ``o`` + 27 characters of base64url(sha256) of
(user, appid) and its unionid the same of (user, open account), both 28 characters like WeChat's. An
openid the emulator has not made (a merchant ordered with its own) becomes a new user on first sight.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any

from wxpay_emulator.clock import Clock
from wxpay_emulator.domain.models import AccessToken, App, Merchant, Order
from wxpay_emulator.domain.ports import AppRepository, UnitOfWorkFactory
from wxpay_emulator.ids import Ids

TOKEN_SECONDS = 7200
# A new /cgi-bin/token leaves the previous one valid for five more minutes (WeChat's overlap).
OVERLAP_SECONDS = 300
# stable_token: force_refresh calls closer together than this answer the current token.
FORCE_REFRESH_GAP_SECONDS = 30
# getPaidUnionid answers only within five minutes of the payment (seed 000, 注意事项).
UNIONID_WINDOW_SECONDS = 300
TOKEN_LENGTH = 136
KEEP_EXPIRED = dt.timedelta(days=1)

UNSET: Any = object()

# errcode -> errmsg, as api.weixin.qq.com answers them (seed 000 and the general error codes).
ERRMSG: dict[int, str] = {
    -1: "system error",
    40001: "invalid credential  access_token isinvalid or not latest",  # seed 000, byte for byte
    40002: "invalid grant_type",
    40003: "invalid openid",
    40013: "invalid appid",
    40125: "invalid appsecret",
    41001: "access_token missing",
    41002: "appid missing",
    41004: "appsecret missing",
    89002: "open not exists",
    89300: "invalid trade",
}


class MiniProgramError(Exception):
    """An ``{"errcode", "errmsg"}`` answer of the Mini Program server API (HTTP 200, like WeChat)."""

    def __init__(self, errcode: int, errmsg: str | None = None) -> None:
        self.errcode = errcode
        self.errmsg = errmsg if errmsg is not None else ERRMSG[errcode]
        super().__init__(f"{self.errcode} {self.errmsg}")


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int


@dataclass(frozen=True)
class User:
    user_id: str
    openids: dict[str, str] = field(default_factory=dict)  # appid -> openid
    unionids: dict[str, str] = field(default_factory=dict)  # open account -> unionid


def _digest28(*parts: str) -> str:
    raw = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return "o" + base64.urlsafe_b64encode(raw).decode()[:27]


def openid_for(user_id: str, appid: str) -> str:
    return _digest28("openid", user_id, appid)


def unionid_for(user_id: str, open_account: str) -> str:
    return _digest28("unionid", user_id, open_account)


def default_open_account(mchid: str) -> str:
    return ("open_" + mchid)[:32]


def payers_in_app(order: Order, appid: str) -> set[str]:
    """The order's payer openid(s) as seen by this app: payer_openid in the order's appid, sub_openid in
    a partner order's sub_appid."""
    found: set[str] = set()
    if order.appid == appid and order.payer_openid:
        found.add(order.payer_openid)
    if order.sub_appid == appid and order.sub_openid:
        found.add(order.sub_openid)
    return found


def _present(value: str | None) -> str | None:
    return value if value else None


class MiniProgramService:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, ids: Ids) -> None:
        self.uow = uow
        self.clock = clock
        self.ids = ids

    # --- apps ------------------------------------------------------------------------------------------

    def _new_secret(self) -> str:
        """32 lowercase hex characters, the shape of a real AppSecret."""
        return hashlib.md5(self.ids.secret(32).encode(), usedforsecurity=False).hexdigest()

    def _ensure(self, repo: AppRepository, appid: str) -> App | None:
        """The app, made on first sight if a merchant has the appid bound; None if unknown."""
        app = repo.app(appid)
        if app is not None:
            return app
        owner = repo.owner_of(appid)
        if owner is None:
            return None
        repo.add_app(App(appid, self._new_secret(), default_open_account(owner)), self.clock.real_now())
        return repo.app(appid)  # ours, or a concurrent maker's

    def app(self, appid: str) -> App | None:
        with self.uow() as uow:
            return self._ensure(uow.apps, appid)

    def apps(self) -> list[App]:
        with self.uow() as uow:
            repo = uow.apps
            for appid, _mchid in repo.bound_appids():
                self._ensure(repo, appid)
            return repo.apps()

    def apps_of(self, merchant: Merchant) -> list[App]:
        with self.uow() as uow:
            repo = uow.apps
            found = (self._ensure(repo, a) for a in dict.fromkeys((merchant.appid, *merchant.appids)))
            return [a for a in found if a is not None]

    def put_app(self, appid: str, *, secret: str | None = None, open_account: str | None = UNSET) -> App:
        """Create or change an app. ``open_account=None`` unbinds it from the open platform (89002);
        left out, a new app gets its merchant's default (or ``open_<appid>`` if no merchant has it)."""
        with self.uow() as uow:
            repo = uow.apps
            existing = self._ensure(repo, appid)
            if existing is None:
                explicit = open_account is not UNSET
                account = open_account if explicit else default_open_account(appid)
                app = App(appid, secret or self._new_secret(), account)
                if not repo.add_app(app, self.clock.real_now()):
                    # A concurrent first sight made the app first: only what this call gave applies.
                    given = {"open_account": open_account} if explicit else {}
                    repo.update_app(appid, {**given, **({"secret": secret} if secret else {})})
            else:
                changes: dict[str, Any] = {} if open_account is UNSET else {"open_account": open_account}
                if secret:
                    changes["secret"] = secret
                repo.update_app(appid, changes)
            found = repo.app(appid)
        assert found is not None
        return found

    # --- access tokens ---------------------------------------------------------------------------------

    @staticmethod
    def _authenticate(app: App | None, secret: str) -> App:
        if app is None:
            raise MiniProgramError(40013)
        if not hmac.compare_digest(app.secret.encode(), secret.encode()):
            raise MiniProgramError(40125)
        return app

    def _credentials(
        self, repo: AppRepository, grant_type: str | None, appid: str | None, secret: str | None
    ) -> App:
        if grant_type != "client_credential":
            raise MiniProgramError(40002)
        appid, secret = _present(appid), _present(secret)
        if appid is None:
            raise MiniProgramError(41002)
        if secret is None:
            raise MiniProgramError(41004)
        app = self._authenticate(self._ensure(repo, appid), secret)
        repo.lock_app(app.appid)  # one issuer at a time per app, so no caller gets a token already capped
        return app

    def _issue(self, repo: AppRepository, appid: str, kind: str, now: dt.datetime) -> IssuedToken:
        token = AccessToken(
            self.ids.secret(TOKEN_LENGTH), appid, kind, now, now + dt.timedelta(seconds=TOKEN_SECONDS)
        )
        repo.add_token(token)
        repo.forget_tokens_expired_before(now - KEEP_EXPIRED)
        return IssuedToken(token.token, TOKEN_SECONDS)

    def issue_token(self, grant_type: str | None, appid: str | None, secret: str | None) -> IssuedToken:
        """``GET /cgi-bin/token``: a new token each call; the previous ones stay valid five minutes."""
        now = self.clock.now()
        with self.uow() as uow:
            repo = uow.apps
            app = self._credentials(repo, grant_type, appid, secret)
            repo.cap_tokens(app.appid, "token", now + dt.timedelta(seconds=OVERLAP_SECONDS))
            return self._issue(repo, app.appid, "token", now)

    def stable_token(
        self, grant_type: str | None, appid: str | None, secret: str | None, force_refresh: bool = False
    ) -> IssuedToken:
        """``POST /cgi-bin/stable_token`` (getStableAccessToken), apart from /cgi-bin/token's tokens.

        Normal mode: the same token while more than five minutes of it remain (``expires_in`` counts
        down); in its last five minutes a new one is issued and the old one lives out its time, so the
        two overlap and a caller never gets a token about to die. ``force_refresh``: a new token, the
        previous one ending at once, except within 30 s of the last refresh, which answer the current
        token (WeChat's anti-abuse rule; its daily limit of 20 forced refreshes is not enforced)."""
        now = self.clock.now()
        with self.uow() as uow:
            repo = uow.apps
            app = self._credentials(repo, grant_type, appid, secret)
            current = repo.latest_token(app.appid, "stable")
            if current is not None and current.expires_at > now:
                remaining = int((current.expires_at - now).total_seconds())
                recent = now - current.created_at < dt.timedelta(seconds=FORCE_REFRESH_GAP_SECONDS)
                if (not force_refresh and remaining > OVERLAP_SECONDS) or (force_refresh and recent):
                    return IssuedToken(current.token, remaining)
            if force_refresh:
                repo.cap_tokens(app.appid, "stable", now)
            return self._issue(repo, app.appid, "stable", now)

    def token_app(self, access_token: str | None) -> str:
        """The appid a valid access_token belongs to (41001 when missing, 40001 when unknown/expired)."""
        if not access_token:
            raise MiniProgramError(41001)
        with self.uow() as uow:
            token = uow.apps.token(access_token)
        if token is None or token.expires_at <= self.clock.now():
            raise MiniProgramError(40001)
        return token.appid

    # --- users -----------------------------------------------------------------------------------------

    def _user_of(self, repo: AppRepository, appid: str, openid: str) -> str:
        """The user behind an openid, registering a never-seen openid as a new user."""
        user_id = repo.user_of(appid, openid)
        if user_id is None:
            repo.add_openid(appid, openid, self._new_user_id())
            user_id = repo.user_of(appid, openid)  # ours, or a concurrent first sight's
        assert user_id is not None
        return user_id

    def _new_user_id(self) -> str:
        return "u_" + self.ids.secret(24)

    def _view(self, repo: AppRepository, user_id: str) -> User:
        openids = repo.openids_of(user_id)
        unionids: dict[str, str] = {}
        for appid in openids:
            app = repo.app(appid)
            if app is not None and app.open_account is not None:
                unionids.setdefault(app.open_account, unionid_for(user_id, app.open_account))
        return User(user_id, openids, unionids)

    def create_user(self, appids: list[str]) -> User:
        """A new WeChat user with an openid in each of ``appids`` (apps need not be known)."""
        user_id = self._new_user_id()
        with self.uow() as uow:
            repo = uow.apps
            for appid in dict.fromkeys(appids):
                self._ensure(repo, appid)
                repo.add_openid(appid, openid_for(user_id, appid), user_id)
            return self._view(repo, user_id)

    def user(self, user_id: str) -> User | None:
        with self.uow() as uow:
            repo = uow.apps
            view = self._view(repo, user_id)
        return view if view.openids else None

    # --- getPaidUnionid --------------------------------------------------------------------------------

    def paid_unionid(
        self,
        access_token: str | None,
        openid: str | None,
        transaction_id: str | None = None,
        mch_id: str | None = None,
        out_trade_no: str | None = None,
    ) -> str:
        """``GET /wxa/getpaidunionid`` (seed 000): the payer's unionid within five minutes of payment,
        looked up by transaction_id or by mch_id + out_trade_no."""
        appid = self.token_app(access_token)
        now = self.clock.now()
        openid, transaction_id = _present(openid), _present(transaction_id)
        mch_id, out_trade_no = _present(mch_id), _present(out_trade_no)
        if openid is None:
            raise MiniProgramError(40003)
        with self.uow() as uow:
            repo = uow.apps
            orders = uow.orders
            if transaction_id is not None:
                order = orders.by_transaction_id(transaction_id)
            elif mch_id is not None and out_trade_no is not None:
                order = orders.by_out_trade_no(mch_id, out_trade_no)
            else:
                order = None
            if repo.user_of(appid, openid) is None and not repo.paid_in_app(appid, openid):
                raise MiniProgramError(40003)
            user_id = self._user_of(repo, appid, openid)
            app = self._ensure(repo, appid)
            if app is None or app.open_account is None:
                raise MiniProgramError(89002)
            if (
                order is None
                or order.success_time is None
                or openid not in payers_in_app(order, appid)
                or now - order.success_time > dt.timedelta(seconds=UNIONID_WINDOW_SECONDS)
            ):
                raise MiniProgramError(89300)
            return unionid_for(user_id, app.open_account)

"""Mini Program rows: apps (secret, open-platform account), access tokens, and the simulated users'
openids (``payer_openids``). No business rules here; see domain/miniprogram.py."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, Table, and_, delete, insert, or_, select, update

from wxpay_emulator.domain.models import AccessToken, App
from wxpay_emulator.storage.db import insert_or
from wxpay_emulator.storage.tables import (
    access_tokens,
    apps,
    merchant_apps,
    merchants,
    orders,
    payer_openids,
)


class MiniProgramRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _insert_new(self, table: Table, keys: list[str], **values: Any) -> bool:
        """Insert unless the primary key exists (a concurrent writer may have won): one statement, so
        the race ends in "do nothing" rather than an IntegrityError. True if this call inserted."""
        return insert_or(self.conn, table, keys, values)

    # --- apps ------------------------------------------------------------------------------------------

    def app(self, appid: str) -> App | None:
        row = self.conn.execute(select(apps).where(apps.c.appid == appid)).first()
        return None if row is None else App(row.appid, row.secret, row.open_account)

    def apps(self) -> list[App]:
        rows = self.conn.execute(select(apps).order_by(apps.c.created_at, apps.c.appid)).all()
        return [App(r.appid, r.secret, r.open_account) for r in rows]

    def add_app(self, app: App, created_at: dt.datetime) -> bool:
        return self._insert_new(
            apps,
            ["appid"],
            appid=app.appid,
            secret=app.secret,
            open_account=app.open_account,
            created_at=created_at,
        )

    def lock_app(self, appid: str) -> None:
        """Serialise token issuing per app: PostgreSQL locks the app's row until the transaction ends
        (SQLite runs one writer at a time anyway)."""
        if self.conn.dialect.name == "postgresql":
            self.conn.execute(select(apps.c.appid).where(apps.c.appid == appid).with_for_update())

    def update_app(self, appid: str, changes: dict[str, Any]) -> None:
        """Change ``secret`` and/or ``open_account`` (the keys present in ``changes``)."""
        if changes:
            self.conn.execute(update(apps).where(apps.c.appid == appid).values(**changes))

    def bound_appids(self) -> list[tuple[str, str]]:
        """(appid, mchid) for every app bound to a merchant, the oldest merchant first."""
        main = select(merchants.c.appid, merchants.c.mchid, merchants.c.created_at)
        extra = select(merchant_apps.c.appid, merchant_apps.c.mchid, merchants.c.created_at).join(
            merchants, merchants.c.mchid == merchant_apps.c.mchid
        )
        rows = self.conn.execute(main.union_all(extra).order_by("created_at", "mchid")).all()
        return [(r[0], r[1]) for r in rows]

    def owner_of(self, appid: str) -> str | None:
        """The oldest merchant the appid is bound to, if any."""
        main = select(merchants.c.mchid, merchants.c.created_at).where(merchants.c.appid == appid)
        extra = (
            select(merchants.c.mchid, merchants.c.created_at)
            .join(merchant_apps, merchants.c.mchid == merchant_apps.c.mchid)
            .where(merchant_apps.c.appid == appid)
        )
        row = self.conn.execute(main.union_all(extra).order_by("created_at", "mchid").limit(1)).first()
        return None if row is None else str(row[0])

    # --- access tokens ---------------------------------------------------------------------------------

    def add_token(self, t: AccessToken) -> None:
        self.conn.execute(
            insert(access_tokens).values(
                token=t.token, appid=t.appid, kind=t.kind, created_at=t.created_at, expires_at=t.expires_at
            )
        )

    def token(self, token: str) -> AccessToken | None:
        row = self.conn.execute(select(access_tokens).where(access_tokens.c.token == token)).first()
        if row is None:
            return None
        return AccessToken(row.token, row.appid, row.kind, row.created_at, row.expires_at)

    def latest_token(self, appid: str, kind: str) -> AccessToken | None:
        row = self.conn.execute(
            select(access_tokens)
            .where((access_tokens.c.appid == appid) & (access_tokens.c.kind == kind))
            .order_by(access_tokens.c.created_at.desc(), access_tokens.c.expires_at.desc())
            .limit(1)
        ).first()
        if row is None:
            return None
        return AccessToken(row.token, row.appid, row.kind, row.created_at, row.expires_at)

    def cap_tokens(self, appid: str, kind: str, until: dt.datetime) -> None:
        """Shorten the life of this app's tokens of ``kind`` to end at ``until`` at the latest."""
        self.conn.execute(
            update(access_tokens)
            .where(
                (access_tokens.c.appid == appid)
                & (access_tokens.c.kind == kind)
                & (access_tokens.c.expires_at > until)
            )
            .values(expires_at=until)
        )

    def forget_tokens_expired_before(self, moment: dt.datetime) -> None:
        self.conn.execute(delete(access_tokens).where(access_tokens.c.expires_at < moment))

    # --- users -----------------------------------------------------------------------------------------

    def user_of(self, appid: str, openid: str) -> str | None:
        row = self.conn.execute(
            select(payer_openids.c.user_id).where(
                (payer_openids.c.appid == appid) & (payer_openids.c.openid == openid)
            )
        ).first()
        return None if row is None else str(row[0])

    def openids_of(self, user_id: str) -> dict[str, str]:
        """appid -> openid of one user (the first registered when an app has several)."""
        rows = self.conn.execute(
            select(payer_openids.c.appid, payer_openids.c.openid)
            .where(payer_openids.c.user_id == user_id)
            .order_by(payer_openids.c.appid, payer_openids.c.openid)
        ).all()
        out: dict[str, str] = {}
        for appid, openid in rows:
            out.setdefault(appid, openid)
        return out

    def add_openid(self, appid: str, openid: str, user_id: str) -> bool:
        return self._insert_new(
            payer_openids, ["appid", "openid"], appid=appid, openid=openid, user_id=user_id
        )

    def paid_in_app(self, appid: str, openid: str) -> bool:
        """Whether some order placed in this app names ``openid`` as its payer there."""
        row = self.conn.execute(
            select(orders.c.id)
            .where(
                or_(
                    and_(orders.c.appid == appid, orders.c.payer_openid == openid),
                    and_(orders.c.sub_appid == appid, orders.c.sub_openid == openid),
                )
            )
            .limit(1)
        ).first()
        return row is not None

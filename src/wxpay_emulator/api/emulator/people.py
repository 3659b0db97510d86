"""Control plane for the Mini Program side: apps (AppSecret, open-platform account) and simulated
WeChat users (an openid per app, a unionid per open account). Documented in the README."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from wxpay_emulator.api.calls import call, domain_of
from wxpay_emulator.api.family import new_router
from wxpay_emulator.domain.miniprogram import UNSET, User
from wxpay_emulator.domain.models import App
from wxpay_emulator.wire import reject_nul

router = new_router(prefix="/emulator/v1")

AppId = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^[0-9A-Za-z_-]+$")]


class AppBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    _no_nul = field_validator("*", mode="after")(reject_nul)

    appid: AppId
    secret: str | None = Field(default=None, pattern=r"^[0-9A-Za-z]{1,32}$")
    # null: the app is bound to no open-platform account (getpaidunionid answers 89002).
    open_account: str | None = Field(default=None, min_length=1, max_length=32)


class UserBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    appids: list[AppId] = Field(min_length=1, max_length=20)


def app_view(app: App) -> dict[str, Any]:
    return {"appid": app.appid, "secret": app.secret, "open_account": app.open_account}


def user_view(user: User) -> dict[str, Any]:
    return {"user_id": user.user_id, "openids": user.openids, "unionids": user.unionids}


@router.get("/apps")
async def list_apps(request: Request) -> dict[str, Any]:
    found = await call(request, domain_of(request).miniprogram.apps)
    return {"data": [app_view(a) for a in found]}


@router.get("/apps/{appid}")
async def get_app(appid: str, request: Request) -> dict[str, Any]:
    app = await call(request, domain_of(request).miniprogram.app, appid)
    if app is None:
        raise HTTPException(404, f"no app {appid} (bind it to a merchant or POST /emulator/v1/apps)")
    return app_view(app)


@router.post("/apps")
async def put_app(body: AppBody, request: Request) -> dict[str, Any]:
    """Create or change an app; ``open_account`` left out keeps (or defaults) it, null unbinds it."""
    open_account = body.open_account if "open_account" in body.model_fields_set else UNSET
    mp = domain_of(request).miniprogram
    app = await call(request, mp.put_app, body.appid, secret=body.secret, open_account=open_account)
    return app_view(app)


@router.post("/users", status_code=201)
async def create_user(body: UserBody, request: Request) -> dict[str, Any]:
    user = await call(request, domain_of(request).miniprogram.create_user, body.appids)
    return user_view(user)


@router.get("/users/{user_id}")
async def get_user(user_id: str, request: Request) -> dict[str, Any]:
    user = await call(request, domain_of(request).miniprogram.user, user_id)
    if user is None:
        raise HTTPException(404, f"no user {user_id}")
    return user_view(user)

"""Mini Program server API routes: thin, each one domain call (domain/miniprogram.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ParamSpec

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, field_validator

from wxpay_emulator.api.calls import call, domain_of
from wxpay_emulator.api.faults import operation
from wxpay_emulator.api.safejson import JSONResponse
from wxpay_emulator.domain.miniprogram import IssuedToken, MiniProgramError
from wxpay_emulator.wire import reject_nul

router = APIRouter()

P = ParamSpec("P")


def errcode_response(errcode: int, errmsg: str) -> JSONResponse:
    """WeChat answers its errors with HTTP 200 and ``{"errcode", "errmsg"}``."""
    return JSONResponse({"errcode": errcode, "errmsg": errmsg})


async def answer(request: Request, fn: Callable[P, Any], *args: P.args, **kwargs: P.kwargs) -> Any:
    try:
        return await call(request, fn, *args, **kwargs)
    except MiniProgramError as exc:
        return errcode_response(exc.errcode, exc.errmsg)


def _token_body(result: IssuedToken | JSONResponse) -> JSONResponse:
    if isinstance(result, JSONResponse):
        return result
    return JSONResponse({"access_token": result.access_token, "expires_in": result.expires_in})


class StableTokenBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    _no_nul = field_validator("*", mode="after")(reject_nul)

    grant_type: str | None = None
    appid: str | None = None
    secret: str | None = None
    force_refresh: bool = False


@router.get("/cgi-bin/token", **operation("mp.token", faults=False))
async def token(
    request: Request, grant_type: str | None = None, appid: str | None = None, secret: str | None = None
) -> JSONResponse:
    mp = domain_of(request).miniprogram
    return _token_body(await answer(request, mp.issue_token, grant_type, appid, secret))


@router.post("/cgi-bin/stable_token", **operation("mp.stable_token", faults=False))
async def stable_token(body: StableTokenBody, request: Request) -> JSONResponse:
    mp = domain_of(request).miniprogram
    result = await answer(
        request, mp.stable_token, body.grant_type, body.appid, body.secret, body.force_refresh
    )
    return _token_body(result)


@router.get("/wxa/getpaidunionid", **operation("mp.getpaidunionid", faults=False))
async def getpaidunionid(
    request: Request,
    access_token: str | None = None,
    openid: str | None = None,
    transaction_id: str | None = None,
    mch_id: str | None = None,
    out_trade_no: str | None = None,
) -> JSONResponse:
    mp = domain_of(request).miniprogram
    result = await answer(
        request, mp.paid_unionid, access_token, openid, transaction_id, mch_id, out_trade_no
    )
    if isinstance(result, JSONResponse):
        return result
    return JSONResponse({"unionid": result, "errcode": 0, "errmsg": "ok"})

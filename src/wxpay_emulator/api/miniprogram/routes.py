"""Mini Program server API routes: thin, each one domain call (domain/miniprogram.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ParamSpec

from fastapi import Request
from pydantic import BaseModel, ConfigDict, field_validator

from wxpay_emulator.api.calls import call, domain_of
from wxpay_emulator.api.family import new_router
from wxpay_emulator.api.faults import Faults, declared_operation, operation
from wxpay_emulator.api.safejson import JSONResponse
from wxpay_emulator.domain.miniprogram import IssuedToken, MiniProgramError
from wxpay_emulator.wire import reject_nul

router = new_router()

P = ParamSpec("P")


def errcode_response(errcode: int, errmsg: str) -> JSONResponse:
    """WeChat answers its errors with HTTP 200 and ``{"errcode", "errmsg"}``."""
    return JSONResponse({"errcode": errcode, "errmsg": errmsg})


# Seed 000's error codes (错误码) with their errmsg: what an armed fault of a Mini Program operation may
# answer, ``{"errcode": <code>, "errmsg": <errmsg>}`` (a fault's own message replaces the errmsg).
SEED_000_CODES: dict[str, str] = {
    "-1": "system error",
    "40001": "invalid credential, access_token is invalid or not latest",
    "40003": "invalid openid",
    "89002": "open not exists",
    "89300": "invalid trade",
}
FAULT_CODES = frozenset(SEED_000_CODES)


async def answer(request: Request, fn: Callable[P, Any], *args: P.args, **kwargs: P.kwargs) -> Any:
    """The domain call's result, or the errcode answer of an armed fault or of a refusal."""
    faults: Faults = request.app.state.faults
    fault = faults.pop(declared_operation(request))
    if fault is not None:
        errmsg = fault.message if fault.custom else SEED_000_CODES[fault.code]
        return errcode_response(int(fault.code), errmsg)
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


@router.get("/cgi-bin/token", **operation("mp.token"))
async def token(
    request: Request, grant_type: str | None = None, appid: str | None = None, secret: str | None = None
) -> JSONResponse:
    mp = domain_of(request).miniprogram
    return _token_body(await answer(request, mp.issue_token, grant_type, appid, secret))


@router.post("/cgi-bin/stable_token", **operation("mp.stable_token"))
async def stable_token(body: StableTokenBody, request: Request) -> JSONResponse:
    mp = domain_of(request).miniprogram
    result = await answer(
        request, mp.stable_token, body.grant_type, body.appid, body.secret, body.force_refresh
    )
    return _token_body(result)


@router.get("/wxa/getpaidunionid", **operation("mp.getpaidunionid"))
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

"""The Mini Program API's :class:`~wxpay_emulator.api.shapes.Shape`: framework-made answers as
``{"errcode", "errmsg"}`` JSON, HTTP 200 like WeChat, except 404 for a path the emulator lacks."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from wxpay_emulator.api.miniprogram.routes import errcode_response
from wxpay_emulator.api.safejson import JSONResponse
from wxpay_emulator.api.shapes import Shape
from wxpay_emulator.domain.errors import DomainError, ErrorCode

# Paths served with POST; every other Mini Program path is GET (43001 / 43002 name the method wanted).
POST_PATHS = frozenset({"/cgi-bin/stable_token"})
NOT_IMPLEMENTED_ERRCODE = 40066  # WeChat's "invalid url"


def _domain_error(_request: Request, exc: DomainError) -> Response:
    if exc.code is ErrorCode.PARAM_ERROR:
        return errcode_response(40097, f"invalid args: {exc.message}")
    return errcode_response(-1, "system error")


def _http_error(request: Request, status: int, _detail: str) -> Response:
    if status == 405:
        if request.url.path in POST_PATHS:
            return errcode_response(43002, "require POST method")
        return errcode_response(43001, "require GET method")
    if status != 404:  # a body the framework could not read
        return errcode_response(47001, f"data format error: {_detail}")
    message = (
        f"invalid url: wxpay-emulator does not implement {request.method} {request.url.path}; "
        "see the coverage table in its README"
    )
    return JSONResponse({"errcode": NOT_IMPLEMENTED_ERRCODE, "errmsg": message}, status_code=404)


def _bad_request(_request: Request, message: str) -> Response:
    return errcode_response(47001, f"data format error: {message}")


def _system_error(_request: Request) -> Response:
    return errcode_response(-1, "system error")


SHAPE = Shape(
    "miniprogram",
    ("/cgi-bin/", "/wxa/"),
    _domain_error,
    _http_error,
    _bad_request,
    _system_error,
    body_limit=64 * 1024,  # its requests are a few fields (api/limits.py)
)

"""The cloud families' :class:`~wxpay_emulator.api.shapes.Shape`: framework-made answers in their
envelopes, never a bare 500 page.

- cloud hosting (``/_/``, seed 001): ``{"errcode": -1, "errmsg": "..."}``;
- cloud functions (``/_/cloudpay/``, seed 003, the wx-server-sdk result): ``{"errCode": -1,
  "errMsg": "cloudPay.<op>:fail ..."}``.

An unknown path answers HTTP 404 with errmsg ``EMULATOR_NOT_IMPLEMENTED: ...`` (distinct from every
WeChat message); a wrong method HTTP 405 with seed 001's REQUIRE_POST_METHOD description.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from wxpay_emulator.api.safejson import JSONResponse
from wxpay_emulator.api.shapes import Shape

HOSTING_PREFIX = "/_/"
FUNCTION_PREFIX = "/_/cloudpay/"
NOT_IMPLEMENTED = "EMULATOR_NOT_IMPLEMENTED"
BODY_LIMIT = 256 * 1024  # the largest request body read on these paths (api/limits.py)


def hosting_error(message: str, status: int = 200) -> JSONResponse:
    return JSONResponse({"errcode": -1, "errmsg": message}, status_code=status)


def function_operation(path: str) -> str:
    """``/_/cloudpay/unifiedOrder`` -> ``unifiedOrder`` (the wx-server-sdk errMsg prefix)."""
    return path.removeprefix(FUNCTION_PREFIX).strip("/") or "unknown"


def function_error(path: str, message: str, status: int = 200) -> JSONResponse:
    body = {"errCode": -1, "errMsg": f"cloudPay.{function_operation(path)}:fail {message}"}
    return JSONResponse(body, status_code=status)


def _http_message(request: Request, status: int, detail: str) -> str:
    if status == 404:
        return f"{NOT_IMPLEMENTED}: {request.method} {request.url.path} is not served by the emulator"
    if status == 405:
        return "请使用post方法 (REQUIRE_POST_METHOD)"
    return detail


def _hosting_http(request: Request, status: int, detail: str) -> Response:
    return hosting_error(_http_message(request, status, detail), status)


def _function_http(request: Request, status: int, detail: str) -> Response:
    return function_error(request.url.path, _http_message(request, status, detail), status)


SHAPES = (
    Shape(
        "cloud",
        (HOSTING_PREFIX,),
        lambda _r, exc: hosting_error(f"{exc.code.value}: {exc.message}"),
        _hosting_http,
        lambda _r, message: hosting_error(message),
        lambda _r: hosting_error("系统错误 (SYSTEMERROR)", 500),
        body_limit=BODY_LIMIT,
    ),
    Shape(
        "cloudfn",
        (FUNCTION_PREFIX,),
        lambda r, exc: function_error(r.url.path, f"{exc.code.value}: {exc.message}"),
        _function_http,
        lambda r, message: function_error(r.url.path, message),
        lambda r: function_error(r.url.path, "系统错误 (SYSTEMERROR)", 500),
        body_limit=BODY_LIMIT,
    ),
)

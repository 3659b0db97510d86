"""APIv3's :class:`~wxpay_emulator.api.shapes.Shape`: framework-made answers as signed v3 JSON."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from wxpay_emulator.api.shapes import Shape
from wxpay_emulator.api.v3.auth import signed_response
from wxpay_emulator.api.v3.errors import body_of, from_domain
from wxpay_emulator.api.v3.routes import not_implemented
from wxpay_emulator.domain.errors import DomainError


def _domain_error(request: Request, exc: DomainError) -> Response:
    err = from_domain(exc)
    return signed_response(request, err.status, body_of(err))


def _http_error(request: Request, _status: int, _detail: str) -> Response:
    # Every /v3 path and method the emulator does not serve answers the documented
    # EMULATOR_NOT_IMPLEMENTED, whatever the framework's reason.
    return not_implemented(request)


def _bad_request(request: Request, message: str) -> Response:
    return signed_response(request, 400, {"code": "PARAM_ERROR", "message": message})


def _system_error(request: Request) -> Response:
    return signed_response(request, 500, {"code": "SYSTEM_ERROR", "message": "系统错误"})


SHAPE = Shape("v3", ("/v3/",), _domain_error, _http_error, _bad_request, _system_error)

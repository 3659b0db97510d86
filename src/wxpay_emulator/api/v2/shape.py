"""APIv2's :class:`~wxpay_emulator.api.shapes.Shape`: framework-made answers as v2 XML (HTTP 200,
``return_code=FAIL``), as WeChat answers anything it cannot serve."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from wxpay_emulator.api.shapes import Shape
from wxpay_emulator.api.v2.common import error_response
from wxpay_emulator.api.v2.errors import NOT_IMPLEMENTED_CODE, V2Error, from_domain, protocol_error
from wxpay_emulator.api.v2.wire import MAX_BODY_BYTES
from wxpay_emulator.domain.errors import DomainError


def _domain_error(request: Request, exc: DomainError) -> Response:
    return error_response(request, from_domain(exc))


def _http_error(request: Request, status: int, _detail: str) -> Response:
    """A path the emulator does not serve (404, under every sandbox prefix too) answers
    ``EMULATOR_NOT_IMPLEMENTED`` in return_msg and err_code, a code WeChat never uses, as APIv3 and
    the cloud families do: an unimplemented call cannot pass for WeChat's INVALID_REQUEST."""
    if status == 404:
        err = protocol_error(
            NOT_IMPLEMENTED_CODE,
            f"{NOT_IMPLEMENTED_CODE}: wxpay-emulator does not implement {request.method} {request.url.path}; "
            "see the coverage table in its README",
        )
    else:
        err = protocol_error("INVALID_REQUEST", f"接口地址不存在: {request.url.path}")
    response = error_response(request, err)
    response.status_code = status
    return response


def _bad_request(request: Request, message: str) -> Response:
    return error_response(request, protocol_error("INVALID_REQUEST", message))


def _system_error(request: Request) -> Response:
    return error_response(request, V2Error("SYSTEMERROR", "系统错误", protocol=True))


SHAPE = Shape(
    "v2",
    ("/pay/", "/secapi/", "/sandboxnew/", "/xdc/"),
    _domain_error,
    _http_error,
    _bad_request,
    _system_error,
    body_limit=MAX_BODY_BYTES,
    # as wire.parse answers a body over the limit: XML_FORMAT_ERROR
    refused_body=lambda r, message: error_response(
        r, protocol_error("XML_FORMAT_ERROR", f"XML格式错误: {message}")
    ),
)

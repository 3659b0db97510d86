"""The dashboard's own answers for what the framework makes on its paths (an unknown order or page,
a path parameter that does not parse, an unexpected error): an HTML page in the dashboard's frame,
not the control plane's JSON."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from wxpay_emulator.api.shapes import Shape
from wxpay_emulator.dashboard.web import render


def _page(request: Request, status: int, message: str) -> Response:
    return render(request, "error.html", status=status, status_code=status, message=message)


SHAPE = Shape(
    name="dashboard",
    prefixes=("/dashboard/",),
    domain_error=lambda request, exc: _page(request, 400, f"{exc.code.value}: {exc.message}"),
    http_error=lambda request, status, detail: _page(request, status, detail),
    bad_request=lambda request, message: _page(request, 400, message),
    system_error=lambda request: _page(request, 500, "the emulator failed unexpectedly; see its log"),
)

"""The control token: what stands between the network and the control plane when ``serve`` is
reachable from other machines.

The control plane (``/emulator/...``) reads every merchant's ``apiv3_key``, ``api_key`` and
AppSecrets, pays, refunds, resets and moves the clock; the pages (dashboard, checkout, ``/emulator/docs``,
``openapi.json``) drive it. On loopback that is what a developer wants. Bound to any other address,
every path that is not one of WeChat's own API paths requires the token:

- ``Authorization: Bearer <token>`` (the CLI sends it: ``--token`` or ``WXPAY_EMULATOR_CONTROL_TOKEN``);
- or the cookie ``wxpay_emulator_token``, set by visiting any page once with ``?token=<token>`` (the
  answer redirects to the same page without it), so a browser works;
- otherwise HTTP 401 ``{"code": "UNAUTHORIZED", "message": ...}``, the control plane's shape.

WeChat's own API paths are those a family's :class:`~wxpay_emulator.api.shapes.Shape` owns, as its
``family.py`` declares them (APIv3 ``/v3/``, APIv2 ``/pay/`` ``/secapi/`` ``/sandboxnew/`` ``/xdc/``,
cloud ``/_/``, Mini Program ``/cgi-bin/`` ``/wxa/``): they keep WeChat's own authentication
(signatures, certificates, access tokens) and never ask for this token. ``/emulator/v1/health``
stays open (it tells nothing but "up"), for load balancers and start-up probes.

The token is ``WXPAY_EMULATOR_CONTROL_TOKEN`` if set (on loopback too: setting it turns the rule on),
else one generated at start and printed. ``WXPAY_EMULATOR_REQUIRE_TOKEN=1`` turns the rule on for a
loopback address without naming a token.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from urllib.parse import parse_qsl, urlencode

from fastapi.responses import RedirectResponse
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from wxpay_emulator.api.safejson import JSONResponse
from wxpay_emulator.api.shapes import Shapes
from wxpay_emulator.config import Settings

COOKIE = "wxpay_emulator_token"
QUERY = "token"
OPEN_PATHS = frozenset({"/emulator/v1/health"})


def is_wechat_api_path(shapes: Shapes, path: str) -> bool:
    """Whether ``path`` is one of WeChat's own API paths (owned by a family's Shape)."""
    return shapes.of(path) is not None


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the server on this machine. ``0.0.0.0``, ``::``, any other
    address and any host name but ``localhost`` count as reachable from elsewhere."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def token_required(settings: Settings) -> bool:
    return settings.require_token or bool(settings.control_token) or not is_loopback(settings.host)


def control_token(settings: Settings) -> str | None:
    """The token the server requires (generated when required and not set), or None."""
    if not token_required(settings):
        return None
    return settings.control_token or secrets.token_urlsafe(32)


def _matches(given: str | None, token: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


class RequireControlToken:
    """Refuse every non-WeChat path without the token (see the module doc)."""

    def __init__(self, app: ASGIApp, token: str, shapes: Shapes) -> None:
        self.app = app
        self.token = token
        self.shapes = shapes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or path in OPEN_PATHS or is_wechat_api_path(self.shapes, path):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        scheme, _, credentials = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and _matches(credentials.strip(), self.token):
            await self.app(scope, receive, send)
            return
        cookies = _cookies(headers.get("cookie", ""))
        if _matches(cookies.get(COOKIE), self.token):
            await self.app(scope, receive, send)
            return
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        given = [value for key, value in query if key == QUERY]
        if scope.get("method") in ("GET", "HEAD") and given and _matches(given[-1], self.token):
            rest = urlencode([(k, v) for k, v in query if k != QUERY])
            response = RedirectResponse(same_origin(path) + (f"?{rest}" if rest else ""), status_code=303)
            secure = scope.get("scheme") == "https"
            response.set_cookie(COOKIE, self.token, httponly=True, samesite="lax", secure=secure, path="/")
            await response(scope, receive, send)
            return
        body = {
            "code": "UNAUTHORIZED",
            "message": "this emulator is reachable from other machines: send Authorization: Bearer "
            "<control token> (printed at start, or WXPAY_EMULATOR_CONTROL_TOKEN), or open ?token=<token>",
        }
        refusal = JSONResponse(
            body, status_code=401, headers={"WWW-Authenticate": 'Bearer realm="wxpay-emulator"'}
        )
        await refusal(scope, receive, send)


def same_origin(path: str) -> str:
    """``path`` as a path of this origin: a leading ``//`` (or ``/\\``, which browsers read alike)
    would make a redirect to it a network-path reference to another host (an open redirect)."""
    return "/" + path.lstrip("/\\")


def _cookies(header: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for part in header.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep:
            found.setdefault(name, value)
    return found

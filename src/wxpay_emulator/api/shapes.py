"""Which API family a path belongs to, and how that family shapes the answers the framework makes.

Routes render their own successes and domain errors, but some answers are made before or outside a
route: an unknown path or method (404/405), a body FastAPI refused, a NUL in the URL, an unexpected
exception. Each family declares a :class:`Shape` for its path prefixes (its family.py, read by
registry.py) so those answers come back in its own form (APIv3 signed JSON, APIv2 XML, cloud and
Mini Program ``errcode`` JSON); everything else answers in the control plane's ``{"code", "message"}``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from wxpay_emulator.domain.errors import DomainError


@dataclass(frozen=True)
class Shape:
    name: str
    prefixes: tuple[str, ...]
    domain_error: Callable[[Request, DomainError], Response]
    # status 404 (no such path) or 405 (wrong method), with the framework's detail
    http_error: Callable[[Request, int, str], Response]
    # a malformed request the framework refused before a route ran (NUL in the URL, validation)
    bad_request: Callable[[Request, str], Response]
    system_error: Callable[[Request], Response]
    # the largest request body the family reads (api/limits.py), and its answer to a bigger or stalled
    # one (default: bad_request)
    body_limit: int = 1024 * 1024
    refused_body: Callable[[Request, str], Response] | None = None

    def owns(self, path: str) -> bool:
        return path.startswith(self.prefixes)

    def refuse_body(self, request: Request, message: str) -> Response:
        return (self.refused_body or self.bad_request)(request, message)


class Shapes:
    """The shapes of the families an app serves, most specific prefix first. create_app builds one from
    the family registry and keeps it in ``app.state.shapes``; the middleware and exception handlers
    ask it which family owns a path."""

    def __init__(self, shapes: Iterable[Shape]) -> None:
        unique = {s.name: s for s in shapes}
        self._shapes = sorted(unique.values(), key=lambda s: -max(len(p) for p in s.prefixes))

    def __iter__(self) -> Iterator[Shape]:
        return iter(self._shapes)

    def of(self, path: str) -> Shape | None:
        for shape in self._shapes:
            if shape.owns(path):
                return shape
        return None

"""Which API family a path belongs to, and how that family shapes the answers the framework makes.

Routes render their own successes and domain errors, but some answers are made before or outside a
route: an unknown path or method (404/405), a body FastAPI refused, a NUL in the URL, an unexpected
exception. Each family registers a :class:`Shape` for its path prefixes so those answers come back in
its own form (APIv3 signed JSON, APIv2 XML, cloud and Mini Program ``errcode`` JSON); everything else
answers in the control plane's ``{"code", "message"}``.
"""

from __future__ import annotations

from collections.abc import Callable
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

    def owns(self, path: str) -> bool:
        return path.startswith(self.prefixes)


_SHAPES: list[Shape] = []


def register(shape: Shape) -> None:
    """Called once per family at import of app.py; later registrations win for overlapping prefixes
    only if they are longer (the most specific prefix owns the path)."""
    if all(s.name != shape.name for s in _SHAPES):
        _SHAPES.append(shape)
        _SHAPES.sort(key=lambda s: -max(len(p) for p in s.prefixes))


def shape_of(path: str) -> Shape | None:
    for shape in _SHAPES:
        if shape.owns(path):
            return shape
    return None

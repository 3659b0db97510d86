"""What one API family gives the application: :class:`FamilySpec`. Each family package describes
itself in its ``family.py``; registry.py lists them and create_app loops over that list."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter
from fastapi.datastructures import DefaultPlaceholder
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from wxpay_emulator.api.safejson import JSONResponse
from wxpay_emulator.api.shapes import Shape
from wxpay_emulator.domain.notifications import CombineRenderer, PaymentRenderer, RefundRenderer
from wxpay_emulator.families import Family
from wxpay_emulator.ids import Ids
from wxpay_emulator.wire import loads

AsyncExceptionHandler = Callable[[Request, Exception], object]


class StrictJSONRequest(Request):
    """A request whose JSON body FastAPI reads as RFC 8259 JSON (``wire.loads``): ``NaN`` and
    ``Infinity`` are a JSON decode error (the family's answer to any unparsable body), not numbers."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = loads(await self.body(), exact_big_numbers=False)
        return self._json


class StrictJSONRoute(APIRoute):
    """A route that reads its body model from :class:`StrictJSONRequest`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(StrictJSONRequest(request.scope, request.receive))

        return strict


def new_router(**kwargs: Any) -> APIRouter:
    """An ``APIRouter`` whose routes answer through ``safejson.JSONResponse`` unless they name another
    class (the app's default, fixed when a route is declared, since :func:`attach` keeps routes as
    declared), and read JSON bodies as RFC 8259 JSON (:class:`StrictJSONRoute`)."""
    return APIRouter(default_response_class=JSONResponse, route_class=StrictJSONRoute, **kwargs)


def attach(target: APIRouter, *sources: APIRouter) -> None:
    """Add ``sources``' routes to ``target`` as they are, in order. ``include_router`` would build
    every route again (its dependant and pydantic models): done twice per family, that was about a
    sixth of a cold start. The routes are final when declared (an ``APIRouter``'s prefix,
    ``include_in_schema`` and default response class are applied by ``add_api_route``), so a source
    that carries anything else an include would merge, or whose routes would take another default
    response class from ``target``, goes through ``include_router``."""
    default = _class_of(target.default_response_class)
    for source in sources:
        merges = source.dependencies or source.tags or source.responses or source.callbacks
        hooks = source.on_startup or source.on_shutdown
        other_default = any(
            isinstance(route, APIRoute)
            and isinstance(route.response_class, DefaultPlaceholder)
            and _class_of(route.response_class) is not default
            for route in source.routes
        )
        if merges or hooks or other_default:
            target.include_router(source)
        else:
            target.routes.extend(source.routes)


def _class_of(response_class: Any) -> Any:
    return response_class.value if isinstance(response_class, DefaultPlaceholder) else response_class


def _no_payment_renderers(_ids: Ids) -> Mapping[str, PaymentRenderer]:
    return {}


def _no_refund_renderers(_ids: Ids) -> Mapping[str, RefundRenderer]:
    return {}


@dataclass(frozen=True)
class FamilySpec:
    name: str  # the family's heading in docs/coverage.md
    families: tuple[Family, ...]  # the stored families it places orders (and notifications) as
    # The family's aggregate router, its catch-all (if any) last: each family is included whole, so no
    # other family's route can fall behind its catch-all.
    router: Callable[[], APIRouter]
    shapes: tuple[Shape, ...] = ()  # how the framework's own answers look on its paths (api/shapes.py)
    fault_codes: frozenset[str] = frozenset()  # what an armed operation of this family may answer
    # response tampering its signed answers can be armed with (APIv3: api/v3/tamper.py)
    tampers: frozenset[str] = frozenset()
    # exception type -> handler answering it in the family's envelope
    handlers: Mapping[type[Exception], AsyncExceptionHandler] = field(default_factory=dict)
    # notification bodies, keyed by the stored family of the order (or of the refund's requester)
    payment_renderers: Callable[[Ids], Mapping[str, PaymentRenderer]] = _no_payment_renderers
    refund_renderers: Callable[[Ids], Mapping[str, RefundRenderer]] = _no_refund_renderers
    combine_renderer: Callable[[Ids], CombineRenderer] | None = None
    # The OpenAPI tags of its routes (api/faults.py's tag_of: an operation's group) with the title each
    # has in /emulator/docs, in the order a merchant meets them (dashboard/docs.py; every tag a route
    # uses has one: tests/unit/test_registry.py).
    tags: tuple[tuple[str, str], ...] = ()

"""What one API family gives the application: :class:`FamilySpec`. Each family package describes
itself in its ``family.py``; registry.py lists them and create_app loops over that list."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from fastapi import APIRouter
from starlette.requests import Request

from wxpay_emulator.api.shapes import Shape
from wxpay_emulator.domain.notifications import CombineRenderer, PaymentRenderer, RefundRenderer
from wxpay_emulator.families import Family
from wxpay_emulator.ids import Ids

AsyncExceptionHandler = Callable[[Request, Exception], object]


def attach(target: APIRouter, *sources: APIRouter) -> None:
    """Add ``sources``' routes to ``target`` as they are, in order. ``include_router`` would build
    every route again (its dependant and pydantic models): done twice per family, that was about a
    sixth of a cold start. The routes are final when declared (an ``APIRouter``'s prefix and
    ``include_in_schema`` are applied by ``add_api_route``), so this is only for routers that carry
    nothing else an include would merge; anything more goes through ``include_router``."""
    for source in sources:
        if source.dependencies or source.tags or source.responses or source.callbacks or source.on_startup:
            target.include_router(source)
        else:
            target.routes.extend(source.routes)


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

"""APIv2 as one family: XML routes under every sandbox prefix, error shape, fault codes, renderers."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import APIRouter, Request, Response

from wxpay_emulator.api.family import FamilySpec, attach, new_router
from wxpay_emulator.api.v2 import refund, routes
from wxpay_emulator.api.v2.common import error_response
from wxpay_emulator.api.v2.errors import V2_FAULT_CODES, V2Error
from wxpay_emulator.api.v2.notify import v2_payment_renderer, v2_refund_renderer
from wxpay_emulator.api.v2.shape import SHAPE
from wxpay_emulator.domain.notifications import PaymentRenderer, RefundRenderer
from wxpay_emulator.families import Family
from wxpay_emulator.ids import Ids


def _router() -> APIRouter:
    aggregate = new_router()
    attach(aggregate, routes.router, refund.router)
    return aggregate


async def _v2_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, V2Error)
    return error_response(request, exc)


def _payments(ids: Ids) -> Mapping[str, PaymentRenderer]:
    return {Family.V2.value: v2_payment_renderer(ids)}


def _refunds(ids: Ids) -> Mapping[str, RefundRenderer]:
    return {Family.V2.value: v2_refund_renderer(ids)}


FAMILY = FamilySpec(
    name="APIv2",
    tags=(("v2", "APIv2 (XML), refunds and the simulation system"),),
    families=(Family.V2,),
    router=_router,
    shapes=(SHAPE,),
    fault_codes=V2_FAULT_CODES,
    handlers={V2Error: _v2_error},
    payment_renderers=_payments,
    refund_renderers=_refunds,
)

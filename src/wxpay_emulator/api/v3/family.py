"""APIv3 as one family: its routes (the catch-all last), error shape, fault codes, notification
renderers, and the views the control plane answers in. registry.py reads ``FAMILY``."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import APIRouter, Request, Response

from wxpay_emulator.api.family import FamilySpec, attach, new_router
from wxpay_emulator.api.v3 import combine, partner, refund, render, routes
from wxpay_emulator.api.v3.auth import signed_response
from wxpay_emulator.api.v3.errors import FAULT_STATUS, V3Error, body_of
from wxpay_emulator.api.v3.notify import v3_combine_renderer, v3_payment_renderer
from wxpay_emulator.api.v3.notify_refund import v3_refund_renderer
from wxpay_emulator.api.v3.shape import SHAPE
from wxpay_emulator.api.v3.tamper import TAMPER_KINDS
from wxpay_emulator.api.views import Views
from wxpay_emulator.domain.notifications import PaymentRenderer, RefundRenderer
from wxpay_emulator.families import Family
from wxpay_emulator.ids import Ids

VIEWS = Views(order=render.any_transaction, combine=render.combine_transaction, refund=render.refund_json)


def _router() -> APIRouter:
    aggregate = new_router()
    attach(aggregate, routes.router, partner.router, combine.router, refund.router)
    attach(aggregate, routes.fallback)  # last: unknown /v3 paths answer EMULATOR_NOT_IMPLEMENTED
    return aggregate


async def _v3_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, V3Error)
    return signed_response(request, exc.status, body_of(exc))


def _payments(ids: Ids) -> Mapping[str, PaymentRenderer]:
    return {Family.V3.value: v3_payment_renderer(ids)}


def _refunds(ids: Ids) -> Mapping[str, RefundRenderer]:
    return {Family.V3.value: v3_refund_renderer(ids)}


FAMILY = FamilySpec(
    name="APIv3",
    tags=(
        ("pay", "APIv3 payments"),
        ("certificates", "APIv3 certificates"),
        ("partner", "APIv3 partner (service provider)"),
        ("combine", "APIv3 combine"),
        ("refund", "APIv3 refunds"),
    ),
    families=(Family.V3,),
    router=_router,
    shapes=(SHAPE,),
    fault_codes=frozenset(FAULT_STATUS),
    tampers=TAMPER_KINDS,
    handlers={V3Error: _v3_error},
    payment_renderers=_payments,
    refund_renderers=_refunds,
    combine_renderer=v3_combine_renderer,
)

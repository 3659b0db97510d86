"""The cloud families as one package: cloud hosting ``/_/pay`` (seed 001) and cloud functions
``/_/cloudpay`` (seed 003) share routes, renderers and the ``errcode`` envelope."""

from __future__ import annotations

from fastapi import APIRouter

from wxpay_emulator.api.cloud import refund, routes
from wxpay_emulator.api.cloud.errors import FAULT_CODES
from wxpay_emulator.api.cloud.notify import cloud_refund_renderers, cloud_renderers
from wxpay_emulator.api.cloud.shape import SHAPES
from wxpay_emulator.api.family import FamilySpec, attach, new_router
from wxpay_emulator.families import Family


def _router() -> APIRouter:
    aggregate = new_router()
    attach(aggregate, routes.router, refund.router)
    return aggregate


FAMILY = FamilySpec(
    name="Cloud hosting and CloudPay",
    tags=(
        ("cloud", "Cloud hosting (/_/pay)"),
        ("cloudpay", "Cloud functions, CloudPay (/_/cloudpay)"),
    ),
    families=(Family.CLOUD_HOSTING, Family.CLOUD_FUNCTION),
    router=_router,
    shapes=SHAPES,
    fault_codes=FAULT_CODES,
    payment_renderers=cloud_renderers,
    refund_renderers=cloud_refund_renderers,
)

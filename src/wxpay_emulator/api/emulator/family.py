"""The emulator's own control plane (``/emulator/v1``): not a WeChat family, but included through the
registry like one so create_app has a single loop. It answers in ``{"code", "message"}`` (no shape)
and shows orders through the views the registry gives it (api/views.py)."""

from __future__ import annotations

from fastapi import APIRouter

from wxpay_emulator.api.emulator import cloud, people, refunds, routes
from wxpay_emulator.api.family import FamilySpec
from wxpay_emulator.families import Family


def _router() -> APIRouter:
    aggregate = APIRouter()
    for sub in (routes.router, people.router, cloud.router, refunds.router):
        aggregate.include_router(sub)
    return aggregate


FAMILY = FamilySpec(name="Control plane", families=(Family.CONTROL,), router=_router)

"""The emulator's own control plane (``/emulator/v1``): not a WeChat family, but included through the
registry like one so create_app has a single loop. It answers in ``{"code", "message"}`` (no shape)
and shows orders through the views the registry gives it (api/views.py)."""

from __future__ import annotations

from fastapi import APIRouter

from wxpay_emulator.api.emulator import close, cloud, journal, people, refunds, routes
from wxpay_emulator.api.family import FamilySpec, attach, new_router
from wxpay_emulator.families import Family


def _router() -> APIRouter:
    aggregate = new_router()
    attach(aggregate, routes.router, people.router, cloud.router, refunds.router)
    attach(aggregate, journal.router, close.router)
    return aggregate


# Its routes declare no operation; /emulator/docs groups them (and the checkout page) under this tag.
FAMILY = FamilySpec(
    name="Control plane",
    families=(Family.CONTROL,),
    router=_router,
    tags=(("emulator", "The emulator's control plane and pages"),),
)

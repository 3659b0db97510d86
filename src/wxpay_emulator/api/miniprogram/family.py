"""The Mini Program server API as one family: access tokens and getPaidUnionid, ``errcode`` JSON."""

from __future__ import annotations

from wxpay_emulator.api.family import FamilySpec
from wxpay_emulator.api.miniprogram import routes
from wxpay_emulator.api.miniprogram.shape import SHAPE
from wxpay_emulator.families import Family

FAMILY = FamilySpec(
    name="Mini Program",
    tags=(("mp", "Mini Program"),),
    families=(Family.MINIPROGRAM,),
    router=lambda: routes.router,
    shapes=(SHAPE,),
    fault_codes=routes.FAULT_CODES,
)

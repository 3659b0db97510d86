"""The family registry: every API family the emulator serves, in one typed list, and how each one's
notifications travel. create_app (app.py), the fault table (api/faults.py), the OpenAPI tags and
docs/coverage.md (``python -m wxpay_emulator.coverage``) are all derived from it.

Adding a family is one package with a ``family.py`` describing it (:class:`FamilySpec`) and one line
here. Order does not matter between families: each is included as one router with its own catch-all
last, and their path prefixes do not overlap (tests/unit/test_registry.py checks both).
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi.routing import APIRoute

from wxpay_emulator.api.cloud.family import FAMILY as CLOUD
from wxpay_emulator.api.emulator.family import FAMILY as CONTROL
from wxpay_emulator.api.family import FamilySpec
from wxpay_emulator.api.faults import api_routes, operation_of
from wxpay_emulator.api.miniprogram.family import FAMILY as MINIPROGRAM
from wxpay_emulator.api.v2.family import FAMILY as V2
from wxpay_emulator.api.v3.family import FAMILY as V3
from wxpay_emulator.api.v3.family import VIEWS as V3_VIEWS
from wxpay_emulator.api.views import Views
from wxpay_emulator.families import Family
from wxpay_emulator.notify.protocols import PROTOCOLS, WireProtocol

FAMILIES: tuple[FamilySpec, ...] = (V3, V2, CLOUD, MINIPROGRAM, CONTROL)

# The control plane shows orders and refunds in APIv3's JSON (README, docs/control-plane.md).
CONTROL_VIEWS: Views = V3_VIEWS


def spec_of(family: Family) -> FamilySpec:
    for spec in FAMILIES:
        if family in spec.families:
            return spec
    raise LookupError(family)


def delivery_of(family: Family) -> WireProtocol:
    """How a family's notifications travel and are acknowledged (notify/protocols.py)."""
    return PROTOCOLS[family]


def tag_titles() -> dict[str, str]:
    """Every OpenAPI tag the families' routes carry, with its title, in registry order (each family's
    own order within it): how /emulator/docs names and orders its groups."""
    return {tag: title for spec in FAMILIES for tag, title in spec.tags}


def operations() -> Iterator[tuple[FamilySpec, APIRoute, str]]:
    """Every route of every family that declares an operation, with it, in registry order."""
    for spec in FAMILIES:
        for route in api_routes(spec.router().routes):
            name = operation_of(route)
            if name is not None:
                yield spec, route, name

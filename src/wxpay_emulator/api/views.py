"""How the control plane shows orders and refunds. The control plane belongs to no API family, so it
imports none: the registry hands it the views of the family whose JSON it answers in (APIv3's
transaction and refund JSON, registry.py), kept in ``app.state.views``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from starlette.requests import Request

from wxpay_emulator.domain.models import CombineOrder, Order, Refund


class OrderView(Protocol):
    def __call__(self, order: Order) -> dict[str, Any]: ...


class CombineView(Protocol):
    def __call__(self, combine: CombineOrder) -> dict[str, Any]: ...


class RefundView(Protocol):
    def __call__(self, refund: Refund) -> dict[str, object]: ...


@dataclass(frozen=True)
class Views:
    order: OrderView
    combine: CombineView
    refund: RefundView


def views_of(request: Request) -> Views:
    views: Views = request.app.state.views
    return views

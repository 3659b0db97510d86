"""The one place the audit uses the families' notification renderers and acknowledgement rules (the
audit is a face, like the dashboard: no family imports it, so it may import them).

The audit sends notifications exactly as the dispatcher would: the bodies come from the same renderers
app.py registers, and "acknowledged" is the family's own rule (notify/protocols.py).
"""

from __future__ import annotations

import datetime as dt

from wxpay_emulator.api.cloud.notify import cloud_payment_renderer
from wxpay_emulator.api.v2 import wire as v2_wire
from wxpay_emulator.api.v2.notify import signed_xml, signing_key, v2_payment_renderer
from wxpay_emulator.api.v2.render import sign_type_of
from wxpay_emulator.api.v3.notify import v3_payment_renderer
from wxpay_emulator.domain.models import Merchant, Order
from wxpay_emulator.ids import Ids
from wxpay_emulator.notify.protocols import WireProtocol, protocol_for

Value = v2_wire.Value

__all__ = [
    "Value",
    "WireProtocol",
    "protocol_for",
    "render_payment",
    "sign_type_of",
    "signed_xml",
    "signing_key",
    "v2_fields",
]


def render_payment(
    family: str, merchant: Merchant, order: Order, notification_id: str, created_at: dt.datetime, ids: Ids
) -> str:
    """The payment notification body of ``order`` in the form of ``family`` (v3, v2 or cloud)."""
    if family == "v2":
        renderer = v2_payment_renderer(ids)
    elif family == "cloud":
        renderer = cloud_payment_renderer(ids)
    else:
        renderer = v3_payment_renderer(ids)
    return renderer(merchant, order, notification_id, created_at).body


def v2_fields(body: str) -> dict[str, str]:
    """An APIv2 notification's fields (defusedxml, DTDs refused), ``sign`` included."""
    return v2_wire.parse(body.encode())

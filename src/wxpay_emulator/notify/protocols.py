"""How each family's notification travels, and what counts as the merchant's acknowledgement.

- APIv3 (direct, partner, combine, refunds): JSON signed with ``Wechatpay-*`` headers; HTTP 200 or 204
  acknowledges (DESIGN.md §2).
- APIv2: XML; only an answer whose XML says ``return_code`` SUCCESS acknowledges (WeChat's v2 notify
  page: the merchant must answer ``<xml><return_code>SUCCESS</return_code><return_msg>OK</return_msg>
  </xml>``, otherwise the notification is repeated).
- Cloud hosting and cloud functions: JSON to the registered container service or function; only a
  JSON answer ``{"errcode": 0, ...}`` acknowledges (seed 003's callback protocol).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from xml.etree.ElementTree import ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from wxpay_emulator.crypto import rsa_sign
from wxpay_emulator.domain.models import Merchant
from wxpay_emulator.families import Family, notification_family

CLOUD_SCHEME = (
    "cloud+"  # notify URLs of cloud orders: cloud+container://env/service/path, cloud+function://env/name
)


@dataclass(frozen=True)
class WireProtocol:
    name: str
    content_type: str
    signed: bool  # APIv3: Wechatpay-* signature headers over the body
    acknowledged: Callable[[int | None, str], bool]

    def headers(self, merchant: Merchant, body: bytes, timestamp: str, nonce: str) -> dict[str, str]:
        headers = {"Content-Type": self.content_type, "User-Agent": "Mozilla/4.0"}
        if self.signed:
            serial, key = merchant.signing_identity()
            headers.update(rsa_sign.signature_headers(serial, key, body, timestamp, nonce))
        return headers


def _v3_ack(status: int | None, _text: str) -> bool:
    return status in (200, 204)


def _v2_ack(status: int | None, text: str) -> bool:
    if status != 200:
        return False
    try:
        root = SafeET.fromstring(text.strip().encode())
    except (ParseError, DefusedXmlException, ValueError):
        return False
    code = root.findtext("return_code")
    return root.tag == "xml" and code is not None and code.strip() == "SUCCESS"


def _cloud_ack(status: int | None, text: str) -> bool:
    if status != 200:
        return False
    try:
        answer = json.loads(text)
    except (ValueError, RecursionError):
        return False
    errcode = answer.get("errcode") if isinstance(answer, dict) else None
    return type(errcode) is int and errcode == 0


V3 = WireProtocol("v3", "application/json", True, _v3_ack)
V2 = WireProtocol("v2", "text/xml", False, _v2_ack)
CLOUD = WireProtocol("cloud", "application/json", False, _cloud_ack)


# Every family that is notified, and how (a test checks that each family with renderers has one).
PROTOCOLS: dict[Family, WireProtocol] = {
    Family.V3: V3,
    Family.V2: V2,
    Family.CLOUD_HOSTING: CLOUD,
    Family.CLOUD_FUNCTION: CLOUD,
}


def protocol_for(kind: str) -> WireProtocol:
    """The protocol of a stored notification kind (``v3``, ``v3combine``, ``v2refund``, ``cloudfn`` ...)."""
    return PROTOCOLS[notification_family(kind)]

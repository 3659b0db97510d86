"""A notification's body as the merchant reads it: the APIv3 ``resource`` decrypted with the merchant's
APIv3 key, a v2 refund's ``req_info`` decrypted with its API key, plaintext (v2 XML, cloud JSON) shown
as parsed. Read-only; the stored body is never changed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from wxpay_emulator.crypto import CryptoError, aead, req_info
from wxpay_emulator.domain.models import Merchant


@dataclass(frozen=True)
class Decoded:
    how: str  # what was done to get ``plain``
    plain: str  # pretty-printed
    error: str | None = None


def _flat(root: Element) -> dict[str, str]:
    return {child.tag: child.text or "" for child in root}


def _pretty(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2)


def _json_text(raw: bytes | str) -> str:
    try:
        return _pretty(json.loads(raw))
    except ValueError:
        return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw


def decode(body: str, merchant: Merchant | None) -> Decoded:
    text = body.lstrip()
    if text.startswith("<"):
        return _decode_xml(body, merchant)
    try:
        envelope = json.loads(body)
    except ValueError:
        return Decoded("not JSON or XML: shown as stored", body)
    resource = envelope.get("resource") if isinstance(envelope, dict) else None
    if not isinstance(resource, dict) or "ciphertext" not in resource:
        return Decoded("plaintext JSON (cloud callbacks are not encrypted)", _pretty(envelope))
    if merchant is None:
        return Decoded("APIv3 resource", "", "the merchant is unknown: no APIv3 key to decrypt with")
    try:
        plain = aead.decrypt(
            merchant.apiv3_key.encode(),
            str(resource.get("nonce", "")).encode(),
            str(resource.get("associated_data", "")).encode(),
            str(resource["ciphertext"]),
        )
    except CryptoError as exc:
        return Decoded("APIv3 resource", "", f"{exc}")
    return Decoded(
        f"resource decrypted with {merchant.mchid}'s APIv3 key ({resource.get('algorithm', '?')})",
        _json_text(plain),
    )


def _decode_xml(body: str, merchant: Merchant | None) -> Decoded:
    try:
        fields = _flat(ElementTree.fromstring(body.encode()))
    except (ElementTree.ParseError, DefusedXmlException) as exc:
        return Decoded("XML that does not parse", body, str(exc))
    if "req_info" not in fields:
        return Decoded("plaintext v2 XML", _pretty(fields))
    if merchant is None:
        return Decoded("v2 req_info", _pretty(fields), "the merchant is unknown: no API key to decrypt with")
    try:
        inner = req_info.decrypt(merchant.api_key, fields["req_info"])
        decrypted = _flat(ElementTree.fromstring(inner))
    except (CryptoError, ElementTree.ParseError, DefusedXmlException) as exc:
        return Decoded("v2 req_info", _pretty(fields), str(exc))
    shown = {**{k: v for k, v in fields.items() if k != "req_info"}, "req_info (decrypted)": decrypted}
    return Decoded(f"req_info decrypted with md5 of {merchant.mchid}'s API key (AES-256-ECB)", _pretty(shown))

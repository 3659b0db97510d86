"""The API families, as a type. A base module: it imports nothing of the project.

The database stores a family as the enum's value (``orders.family``, ``notifications.family``); the
notification kind adds what was told (``"v3combine"``, ``"v2refund"``). :func:`notification_family`
is the one place that reads a stored kind back as a :class:`Family`.
"""

from __future__ import annotations

from enum import StrEnum


class Family(StrEnum):
    V3 = "v3"  # APIv3: direct, partner (服务商), combine (合单), refunds
    V2 = "v2"  # APIv2: XML, sandbox prefixes, /secapi/ refunds
    CLOUD_HOSTING = "cloud"  # 云托管 /_/pay (seed 001)
    CLOUD_FUNCTION = "cloudfn"  # 云开发 CloudPay /_/cloudpay (seed 003)
    MINIPROGRAM = "miniprogram"  # Mini Program server API: access_token, getPaidUnionid
    CONTROL = "control"  # the emulator's own control plane and dashboard


# What a stored notification kind appends to its family's value.
NOTIFICATION_SUFFIXES = ("combine", "refund")


def notification_family(kind: str) -> Family:
    """The family of a stored notification kind: ``"v3"``, ``"v3combine"``, ``"cloudfnrefund"`` ...
    ValueError for a kind no family writes."""
    for suffix in NOTIFICATION_SUFFIXES:
        if kind.endswith(suffix):
            kind = kind.removesuffix(suffix)
            break
    return Family(kind)

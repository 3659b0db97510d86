"""The merchants' API certificates, read for the TLS handshake (tls.py): one light query per handshake
(the mchids), and the certificates of only the merchants not seen before."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select

from wxpay_emulator.storage.db import Store
from wxpay_emulator.storage.tables import merchants


def merchant_certificates(store: Store, known: Collection[str]) -> dict[str, bytes]:
    """``{mchid: apiclient_cert.pem}`` of every merchant in the store whose mchid is not in ``known``."""
    with store.transaction() as conn:
        mchids = set(conn.execute(select(merchants.c.mchid)).scalars())
        new = sorted(mchids.difference(known))
        if not new:
            return {}
        rows = conn.execute(
            select(merchants.c.mchid, merchants.c.merchant_cert_pem).where(merchants.c.mchid.in_(new))
        )
        return {row.mchid: bytes(row.merchant_cert_pem) for row in rows}

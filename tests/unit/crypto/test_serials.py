"""Issue 10 item 4: certificate serials are always 40 upper-case hex digits, also when the first nibble
of the serial is 0 (openssl prints ``08F70EEA3...``; wechatpay-go formats the bytes with ``%X``), in
every place a serial is produced; input serials are still accepted in any case and zero-padding."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command
from alembic.config import Config
from cryptography import x509
from sqlalchemy import text

from wxpay_emulator.app import build_domain, create_app, open_store
from wxpay_emulator.config import Settings
from wxpay_emulator.crypto import keys, rsa_sign
from wxpay_emulator.domain.models import KeyMode
from wxpay_emulator.storage.db import MIGRATIONS, migrate

# 160 bits whose first nibble is 0: formatted without padding it would be 39 digits.
LOW_SERIAL = int("08F70EEA3" + "1" * 31, 16)
PADDED = "08F70EEA3" + "1" * 31


@pytest.fixture
def low_serials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every certificate made from now on has the serial LOW_SERIAL."""
    monkeypatch.setattr(x509, "random_serial_number", lambda: LOW_SERIAL)


def test_format_pads_to_forty_digits() -> None:
    assert keys.format_serial(LOW_SERIAL) == PADDED
    assert keys.format_serial(1) == "0" * 39 + "1"
    assert keys.format_serial(int("F" * 40, 16)) == "F" * 40


def test_certificate_serial_keeps_the_leading_zero(low_serials: None) -> None:
    key = keys.generate_private_key_pem()
    cert = keys.make_certificate(key, "1900000001", "m", keys.dt.datetime.now(keys.dt.UTC))
    assert x509.load_pem_x509_certificate(cert).serial_number == LOW_SERIAL
    assert keys.certificate_serial(cert) == PADDED
    # wechatpay-go: fmt.Sprintf("%X", cert.SerialNumber.Bytes()) of the 20-byte big-endian serial
    assert LOW_SERIAL.to_bytes(20, "big").hex().upper() == PADDED


def _signed(merchant: dict[str, Any], method: str, path: str, serial: str) -> dict[str, str]:
    timestamp, nonce = str(int(time.time())), secrets.token_hex(8)
    message = rsa_sign.request_message(method, path, timestamp, nonce, b"")
    key = Path(merchant["files"]["apiclient_key.pem"]).read_bytes()
    signature = rsa_sign.sign(key, message)
    auth = (
        f'{rsa_sign.AUTH_SCHEME} mchid="{merchant["mchid"]}",nonce_str="{nonce}",'
        f'timestamp="{timestamp}",serial_no="{serial}",signature="{signature}"'
    )
    return {"Authorization": auth, "Accept": "application/json"}


def test_every_serial_the_emulator_produces_has_forty_digits(tmp_path: Path, low_serials: None) -> None:
    async def run() -> None:
        app = create_app(Settings(data_dir=tmp_path))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            created = (await client.post("/emulator/v1/merchants", json={"key_mode": "cert"})).json()
            assert created["serial_no"] == PADDED and created["platform_serial"] == PADDED
            folder = Path(created["files"]["apiclient_key.pem"]).parent
            on_disk = json.loads((folder / "merchant.json").read_text())
            assert on_disk["serial_no"] == PADDED and on_disk["platform_serial"] == PADDED
            assert (folder / "certs" / f"{PADDED}.pem").exists()
            listed = (await client.get("/emulator/v1/merchants")).json()["data"]
            assert {m["serial_no"] for m in listed if m["mchid"] == created["mchid"]} == {PADDED}
            # The platform's answers name their certificate in Wechatpay-Serial; /v3/certificates lists it.
            for given in (PADDED, PADDED.lower(), PADDED.lstrip("0")):  # any case, any padding on input
                answer = await client.get(
                    "/v3/certificates", headers=_signed(created, "GET", "/v3/certificates", given)
                )
                assert answer.status_code == 200, answer.text
                assert answer.headers["Wechatpay-Serial"] == PADDED
                assert answer.json()["data"][0]["serial_no"] == PADDED
            path = "/v3/pay/transactions/out-trade-no/NOSUCH0001?mchid=" + created["mchid"]
            missing = await client.get(path, headers=_signed(created, "GET", path, PADDED))
            assert missing.status_code == 404 and missing.headers["Wechatpay-Serial"] == PADDED

    asyncio.run(run())


def test_serials_stored_unpadded_are_padded_by_the_migration(tmp_path: Path, low_serials: None) -> None:
    settings = Settings(data_dir=tmp_path)
    store = open_store(settings)
    try:
        m = build_domain(store, settings).merchants.create(None, None, KeyMode.CERT)
        with store.engine.begin() as conn:  # as a store written before the rule holds it
            conn.execute(text("UPDATE merchants SET serial_no=:s, platform_serial=:s"), {"s": PADDED[1:]})
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with store.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0004")
        migrate(store.engine)
        fresh = build_domain(store, settings).merchants.get(m.mchid)
        assert fresh.serial_no == PADDED and fresh.platform_serial == PADDED
    finally:
        store.dispose()

"""Merchant creation: what real key generation gives a merchant, and that the session's key pool (which
every other in-process test draws from) still makes distinct merchants."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from tests.support.keys import KeyPool
from wxpay_emulator.app import build_domain
from wxpay_emulator.config import Settings
from wxpay_emulator.crypto import keys
from wxpay_emulator.crypto.errors import CryptoError
from wxpay_emulator.domain.errors import DomainError, ErrorCode
from wxpay_emulator.domain.models import (
    KeyMode,
    Merchant,
)
from wxpay_emulator.domain.services import Domain
from wxpay_emulator.storage.db import Store


def public_of(private_pem: bytes) -> bytes:
    return keys.public_key_pem(private_pem)


def cert_key(cert_pem: bytes) -> bytes:
    return keys.load_public_key(cert_pem).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def assert_consistent(m: Merchant) -> None:
    """Each certificate and the public key belong to their private key, and the serials are the
    certificates' own."""
    assert cert_key(m.merchant_cert_pem) == public_of(m.merchant_key_pem)
    assert cert_key(m.platform_cert_pem) == public_of(m.platform_key_pem)
    assert m.pubkey_pem == public_of(m.pubkey_key_pem)
    assert keys.serials_equal(m.serial_no, keys.certificate_serial(m.merchant_cert_pem))
    assert keys.serials_equal(m.platform_serial, keys.certificate_serial(m.platform_cert_pem))


def test_real_generation_gives_each_merchant_three_fresh_keys(store: Store, settings: Settings) -> None:
    """Without a key source the domain generates every key (what the emulator does)."""
    domain = build_domain(store, settings)
    assert isinstance(domain.merchants.key_source, keys.GeneratedKeys)
    first = domain.merchants.create(None, None, KeyMode.PUBKEY)
    second = domain.merchants.create(None, None, KeyMode.CERT)
    made = [first.merchant_key_pem, first.platform_key_pem, first.pubkey_key_pem]
    made += [second.merchant_key_pem, second.platform_key_pem, second.pubkey_key_pem]
    assert len(set(made)) == 6
    for m in (first, second):
        assert_consistent(m)


def test_pooled_merchants_are_distinct(domain: Domain, key_pool: KeyPool) -> None:
    made = [domain.merchants.create(None, None, KeyMode.PUBKEY) for _ in range(5)]
    assert domain.merchants.key_source is key_pool
    assert len({m.mchid for m in made}) == 5
    assert len({m.appid for m in made}) == 5
    assert len({m.pub_key_id for m in made}) == 5
    assert len({m.apiv3_key for m in made}) == 5
    assert len({m.serial_no for m in made} | {m.platform_serial for m in made}) == 10
    # five merchants in a row never share a key, and a merchant's three keys differ
    assert len({k for m in made for k in (m.merchant_key_pem, m.platform_key_pem, m.pubkey_key_pem)}) == 15
    for m in made:
        assert_consistent(m)


def test_the_pool_generates_each_slot_once() -> None:
    pool = KeyPool(size=4)
    drawn = [pool.private_key_pem() for _ in range(10)]
    assert pool.generated == 4
    assert drawn[:4] == drawn[4:8] and len(set(drawn[:4])) == 4


def test_duplicate_appids_are_bound_once(domain: Domain) -> None:
    m = domain.merchants.create(None, None, KeyMode.PUBKEY, ("wxaaaaaaaaaaaaaaaa", "wxaaaaaaaaaaaaaaaa"))
    assert m.appids == ("wxaaaaaaaaaaaaaaaa",)
    with pytest.raises(DomainError) as info:
        domain.merchants.create(m.mchid)
    assert info.value.code is ErrorCode.MERCHANT_EXISTS


def test_pooled_keys_from_a_folder_are_handed_out_in_turn(tmp_path: Path) -> None:
    """What WXPAY_EMULATOR_KEY_POOL_DIR gives an emulator process (tests/e2e/conftest.py)."""
    made = [keys.generate_private_key_pem() for _ in range(3)]
    for i, pem in enumerate(made):
        (tmp_path / f"{i}.pem").write_bytes(pem)
    pool = keys.PooledKeys(tmp_path)
    assert [pool.private_key_pem() for _ in range(4)] == [*made, made[0]]
    (tmp_path / "2.pem").unlink()
    with pytest.raises(CryptoError):
        keys.PooledKeys(tmp_path)

"""The v2 refund notification's req_info: interoperates with wechatpy's own decryption."""

from __future__ import annotations

import hashlib

import pytest
from wechatpy.crypto import WeChatRefundCrypto

from wxpay_emulator.crypto import CryptoError, req_info

API_KEY = "192006250b4c09247ec02edce69f6a2d"  # WeChat's documented example key (DESIGN.md §2)
PLAIN = (
    b"<root><out_refund_no><![CDATA[R1]]></out_refund_no><refund_fee><![CDATA[100]]></refund_fee>"
    b"<refund_status><![CDATA[SUCCESS]]></refund_status></root>"
)


def test_round_trip_and_block_size() -> None:
    token = req_info.encrypt(API_KEY, PLAIN)
    assert req_info.decrypt(API_KEY, token) == PLAIN
    assert len(__import__("base64").b64decode(token)) % 16 == 0


def test_wechatpy_decrypts_what_we_encrypt() -> None:
    token = req_info.encrypt(API_KEY, PLAIN)
    xml = f"<xml><appid>wx1</appid><mch_id>10000100</mch_id><req_info>{token}</req_info></xml>"
    data = WeChatRefundCrypto(API_KEY).decrypt_message(xml, "wx1", "10000100")
    assert data["out_refund_no"] == "R1"
    assert data["refund_status"] == "SUCCESS"


def test_key_is_lower_case_md5_of_the_api_key() -> None:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key = hashlib.md5(API_KEY.encode()).hexdigest().encode()
    assert key.decode() == key.decode().lower() and len(key) == 32
    raw = __import__("base64").b64decode(req_info.encrypt(API_KEY, PLAIN))
    decryptor = Cipher(algorithms.AES(key), modes.ECB()).decryptor()
    padded = decryptor.update(raw) + decryptor.finalize()
    assert padded[: len(PLAIN)] == PLAIN and set(padded[len(PLAIN) :]) == {len(padded) - len(PLAIN)}


def test_wrong_key_or_garbage_raises() -> None:
    token = req_info.encrypt(API_KEY, PLAIN)
    with pytest.raises(CryptoError):
        req_info.decrypt("another-key", token)
    with pytest.raises(CryptoError):
        req_info.decrypt(API_KEY, "not base64!")

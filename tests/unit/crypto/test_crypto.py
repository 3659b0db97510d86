"""Known-answer and cross-implementation tests for crypto/ (DESIGN.md: every function has one)."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from wechatpayv3 import utils as sdk

from wxpay_emulator.crypto import CryptoError, aead, keys, rsa_sign, v2_sign

# WeChat's own APIv2 signing example (DESIGN.md §2).
V2_PARAMS = {
    "appid": "wxd930ea5d5a258f4f",
    "body": "test",
    "device_info": "1000",
    "mch_id": "10000100",
    "nonce_str": "ibuaiVcKdpRxkhJA",
}
V2_KEY = "192006250b4c09247ec02edce69f6a2d"


def test_v2_md5_known_answer() -> None:
    assert v2_sign.sign(V2_PARAMS, V2_KEY) == "9A0A8659F005D6984697E2CA0A9CF3B7"


def test_v2_hmac_sha256_known_answer() -> None:
    assert (
        v2_sign.sign(V2_PARAMS, V2_KEY, v2_sign.HMAC_SHA256)
        == "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6"
    )


def test_v2_sign_leaves_out_empty_values_and_sign() -> None:
    padded = {**V2_PARAMS, "attach": "", "sign": "WHATEVER"}
    assert v2_sign.sign(padded, V2_KEY) == "9A0A8659F005D6984697E2CA0A9CF3B7"


def test_v2_verify_raises_on_mismatch() -> None:
    v2_sign.verify(V2_PARAMS, V2_KEY, "9a0a8659f005d6984697e2ca0a9cf3b7")
    with pytest.raises(CryptoError):
        v2_sign.verify(V2_PARAMS, V2_KEY, "0" * 32)
    with pytest.raises(CryptoError):
        v2_sign.sign(V2_PARAMS, V2_KEY, "SHA1")


# The GCM specification's test case 16 (AES-256, 96-bit IV, with associated data).
GCM_KEY = bytes.fromhex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308")
GCM_IV = bytes.fromhex("cafebabefacedbaddecaf888")
GCM_PT = bytes.fromhex(
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"
)
GCM_AAD = bytes.fromhex("feedfacedeadbeeffeedfacedeadbeefabaddad2")
GCM_CT_TAG = bytes.fromhex(
    "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
    "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
    "76fc6ece0f4e1768cddf8853bb2d551b"
)


def test_aead_known_answer() -> None:
    ciphertext = aead.encrypt(GCM_KEY, GCM_IV, GCM_AAD, GCM_PT)
    assert base64.b64decode(ciphertext) == GCM_CT_TAG
    assert aead.decrypt(GCM_KEY, GCM_IV, GCM_AAD, ciphertext) == GCM_PT


def test_aead_raises_on_bad_tag_aad_or_key() -> None:
    ciphertext = aead.encrypt(GCM_KEY, GCM_IV, GCM_AAD, GCM_PT)
    tampered = base64.b64encode(base64.b64decode(ciphertext)[:-1] + b"\x00").decode()
    with pytest.raises(CryptoError):
        aead.decrypt(GCM_KEY, GCM_IV, GCM_AAD, tampered)
    with pytest.raises(CryptoError):
        aead.decrypt(GCM_KEY, GCM_IV, b"other", ciphertext)
    with pytest.raises(CryptoError):
        aead.encrypt(b"short", GCM_IV, GCM_AAD, GCM_PT)


def test_aead_matches_wechatpayv3_decrypt() -> None:
    key = "0123456789abcdefghijklmnopqrstuv"
    ciphertext = aead.encrypt(key.encode(), b"abcdefghijkl", b"transaction", "支付成功".encode())
    assert sdk.aes_decrypt("abcdefghijkl", ciphertext, "transaction", key) == "支付成功"


@pytest.fixture(scope="module")
def key_pem() -> bytes:
    return keys.generate_private_key_pem()


def test_signed_strings_are_the_documented_ones() -> None:
    assert rsa_sign.request_message("post", "/v3/x?a=1", "1554208460", "N", b"{}") == (
        b"POST\n/v3/x?a=1\n1554208460\nN\n{}\n"
    )
    assert rsa_sign.request_message("GET", "/v3/x", "1", "N", b"") == b"GET\n/v3/x\n1\nN\n\n"
    assert rsa_sign.response_message("1", "N", b"") == b"1\nN\n\n"
    assert rsa_sign.lines_message("wx1", "1", "n", "prepay_id=p") == b"wx1\n1\nn\nprepay_id=p\n"


def test_rsa_is_deterministic_and_interoperates_with_wechatpayv3(key_pem: bytes) -> None:
    message = rsa_sign.response_message("1554208460", "593BEC0C930BF1AFEB40B4A08C8FB242", b'{"a":1}')
    signature = rsa_sign.sign(key_pem, message)
    assert rsa_sign.sign(key_pem, message) == signature  # PKCS#1 v1.5 has no randomness
    public = keys.load_private_key(key_pem).public_key()
    assert sdk.rsa_verify("1554208460", "593BEC0C930BF1AFEB40B4A08C8FB242", '{"a":1}', signature, public)
    sdk_signature = sdk.rsa_sign(keys.load_private_key(key_pem), message.decode())
    rsa_sign.verify(keys.public_key_pem(key_pem), message, sdk_signature)


def test_rsa_verify_raises(key_pem: bytes) -> None:
    message = b"a\nb\n"
    signature = rsa_sign.sign(key_pem, message)
    with pytest.raises(CryptoError):
        rsa_sign.verify(keys.public_key_pem(key_pem), b"a\nc\n", signature)
    with pytest.raises(CryptoError):
        rsa_sign.verify(keys.public_key_pem(key_pem), message, "not base64!")
    with pytest.raises(CryptoError):
        keys.load_private_key(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")


def test_parse_authorization_any_order() -> None:
    header = (
        'WECHATPAY2-SHA256-RSA2048 serial_no="1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C",'
        'mchid="1900009191", nonce_str="593BEC0C93",timestamp="1554208460",signature="c2ln"'
    )
    fields = rsa_sign.parse_authorization(header)
    assert fields["mchid"] == "1900009191"
    assert fields["nonce_str"] == "593BEC0C93"
    assert fields["signature"] == "c2ln"
    for bad in (
        "Bearer x",
        'WECHATPAY2-SHA256-RSA2048 mchid="1"',
        'WECHATPAY2-SHA256-RSA2048 mchid=1,nonce_str="a",signature="b",timestamp="1",serial_no="2"',
    ):
        with pytest.raises(CryptoError):
            rsa_sign.parse_authorization(bad)


def test_certificate_serial_and_validity(key_pem: bytes) -> None:
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    cert = keys.make_certificate(key_pem, "Tenpay.com", "Tenpay", start, days=10)
    serial = keys.certificate_serial(cert)
    assert serial == serial.upper()
    assert int(serial, 16) == keys.load_certificate(cert).serial_number
    assert keys.certificate_validity(cert) == (start, start + dt.timedelta(days=10))
    assert keys.serials_equal(serial.lower(), "0" + serial)
    assert not keys.serials_equal(serial, "ZZ")
    # a certificate and its key's public PEM verify the same signatures
    signature = rsa_sign.sign(key_pem, b"x\n")
    rsa_sign.verify(cert, b"x\n", signature)

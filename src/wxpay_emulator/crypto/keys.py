"""RSA keys and X.509 certificates for merchants and the emulated platform.

WeChat Pay issues every merchant an API certificate (``apiclient_cert.pem`` with its PKCS#8 key) and
signs its own answers with a platform certificate or, since 2024, a "WeChat Pay public key" identified
by ``PUB_KEY_ID_...``. The emulator makes all three locally.
"""

from __future__ import annotations

import datetime as dt
import threading
from functools import lru_cache
from pathlib import Path
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from wxpay_emulator.crypto.errors import CryptoError


def generate_private_key_pem() -> bytes:
    """A fresh RSA-2048 private key as PKCS#8 PEM (the format wechatpayv3 requires)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@lru_cache(maxsize=256)
def load_private_key(pem: bytes) -> rsa.RSAPrivateKey:
    """Parse (and cache: parsing checks the key and costs about a millisecond) an RSA private key."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except ValueError as exc:
        raise CryptoError(f"not a PEM private key: {exc}") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise CryptoError("not an RSA private key")
    return key


@lru_cache(maxsize=256)
def load_public_key(pem: bytes) -> rsa.RSAPublicKey:
    """An RSA public key from a PEM public key or a PEM certificate."""
    try:
        key: object = (
            x509.load_pem_x509_certificate(pem).public_key()
            if b"BEGIN CERTIFICATE" in pem
            else serialization.load_pem_public_key(pem)
        )
    except ValueError as exc:
        raise CryptoError(f"not a PEM public key or certificate: {exc}") from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise CryptoError("not an RSA public key")
    return key


def public_key_pem(private_key_pem: bytes) -> bytes:
    """The SubjectPublicKeyInfo PEM of a private key (the form WeChat hands out as ``pub_key.pem``)."""
    return (
        load_private_key(private_key_pem)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def make_certificate(
    private_key_pem: bytes,
    common_name: str,
    organization: str,
    not_before: dt.datetime,
    days: int = 3650,
) -> bytes:
    """A certificate for ``private_key_pem`` signed by that key itself, valid from ``not_before``."""
    key = load_private_key(private_key_pem)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "wxpay-emulator"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + dt.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


SERIAL_DIGITS = 40


def format_serial(serial_number: int) -> str:
    """A certificate serial as WeChat prints it: 40 upper-case hex digits, zero-padded (a serial
    whose first nibble is 0 keeps its leading zero, as openssl and wechatpay-go's ``%X`` print it)."""
    return f"{serial_number:0{SERIAL_DIGITS}X}"


def certificate_serial(cert_pem: bytes) -> str:
    """The serial number of a certificate as WeChat prints it (see :func:`format_serial`)."""
    return format_serial(load_certificate(cert_pem).serial_number)


def certificate_validity(cert_pem: bytes) -> tuple[dt.datetime, dt.datetime]:
    cert = load_certificate(cert_pem)
    return cert.not_valid_before_utc, cert.not_valid_after_utc


@lru_cache(maxsize=256)
def load_certificate(cert_pem: bytes) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(cert_pem)
    except ValueError as exc:
        raise CryptoError(f"not a PEM certificate: {exc}") from exc


def serials_equal(a: str, b: str) -> bool:
    """Compare two certificate serials as hex numbers: SDKs differ in case and leading zeros."""
    try:
        return int(a, 16) == int(b, 16)
    except ValueError:
        return False


def make_server_certificate(private_key_pem: bytes, hosts: tuple[str, ...], not_before: dt.datetime) -> bytes:
    """A self-signed TLS server certificate for the emulator's own HTTPS mode, valid for ``hosts``
    (IP addresses and DNS names, as subjectAltName), two years from ``not_before``."""
    import ipaddress

    key = load_private_key(private_key_pem)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "wxpay-emulator"),
            x509.NameAttribute(NameOID.COMMON_NAME, hosts[0] if hosts else "localhost"),
        ]
    )
    alt_names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            alt_names.append(x509.DNSName(host))
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + dt.timedelta(days=730))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


class KeySource(Protocol):
    """Where a new merchant's RSA private keys come from (PKCS#8 PEM, one per call).

    The emulator generates every key (``GeneratedKeys``). A test suite that makes hundreds of merchants
    may pass a pool that hands out keys it generated once: generation is most of a merchant's cost.
    """

    def private_key_pem(self) -> bytes: ...


class GeneratedKeys:
    """A fresh RSA-2048 key on every call: what the emulator uses."""

    def private_key_pem(self) -> bytes:
        return generate_private_key_pem()


class PooledKeys:
    """Keys read from ``*.pem`` files in a folder, handed out in turn: for test suites that start many
    emulator processes (``WXPAY_EMULATOR_KEY_POOL_DIR``). Certificates and serials are still made per
    merchant; with n keys, the keys of any n // 3 merchants made one after the other are all different."""

    def __init__(self, folder: Path) -> None:
        self._keys = [path.read_bytes() for path in sorted(folder.glob("*.pem"))]
        if len(self._keys) < 3:
            raise CryptoError(f"{folder} holds fewer than the three keys a merchant needs")
        self._next = 0
        self._lock = threading.Lock()

    def private_key_pem(self) -> bytes:
        with self._lock:
            key = self._keys[self._next % len(self._keys)]
            self._next += 1
            return key

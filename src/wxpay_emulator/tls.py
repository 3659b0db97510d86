"""The optional TLS mode: HTTPS, with WeChat's client-certificate rule on ``/secapi/``.

WeChat Pay requires the merchant's API certificate (mutual TLS) on its ``/secapi/`` paths (APIv2
refund: "请求需要双向证书"). By default the emulator serves plain HTTP on loopback and checks no client
certificate, so any SDK works without extra setup. With ``--tls`` (``WXPAY_EMULATOR_TLS=1``) it serves
HTTPS with a server certificate it makes in ``DATA_DIR/tls/server.pem`` (trust that file in the client),
asks every client for a certificate (optional at the handshake, so APIv3 calls without one still work),
trusts the API certificates of the merchants the store holds at the time of each handshake
(:class:`StoreTrust`: the cloud provider made at first start and merchants created while it runs
included, without a restart), and hands the presented certificate to the application as the ASGI TLS
extension; ``/secapi/`` routes then refuse a request whose certificate is not the calling merchant's
(CERT_ERROR, see api/v2).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import ssl
import threading
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from starlette.types import Receive, Scope, Send

from wxpay_emulator.crypto import keys
from wxpay_emulator.domain.models import Merchant
from wxpay_emulator.filemodes import private_dir, write_private
from wxpay_emulator.serving import HardenedH11Protocol

log = logging.getLogger("wxpay_emulator")

SERVER_HOSTS = ("127.0.0.1", "localhost", "::1")


def server_material(data_dir: Path) -> tuple[Path, Path]:
    """(certificate, key) of the emulator's HTTPS server, made on first use and kept."""
    folder = data_dir / "tls"
    cert_path, key_path = folder / "server.pem", folder / "server.key"
    if not (cert_path.exists() and key_path.exists()):
        private_dir(folder)
        key_pem = keys.generate_private_key_pem()
        start = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
        write_private(key_path, key_pem)
        write_private(cert_path, keys.make_server_certificate(key_pem, SERVER_HOSTS, start))
    return cert_path, key_path


def uvicorn_options(data_dir: Path) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.Config`` in TLS mode. The client certificates it trusts are
    installed per handshake by :class:`StoreTrust` (``install`` it on the loaded config's context)."""
    cert, key = server_material(data_dir)
    return {
        "ssl_certfile": str(cert),
        "ssl_keyfile": str(key),
        "ssl_cert_reqs": ssl.CERT_OPTIONAL,
        "http": ClientCertificateProtocol,
    }


class StoreTrust:
    """Trust, at every TLS handshake, the API certificate of every merchant the store holds then.

    OpenSSL verifies a presented client certificate against the context's certificate store while the
    handshake runs; Python exposes no verify callback, but it calls the context's ``sni_callback`` on
    every ClientHello (with ``None`` when the client sent no server name), before the client's
    certificate arrives. There the store is asked for merchants not yet trusted, and their certificates
    are added to the context (``load_verify_locations(cadata=...)``, which the handshake in progress
    uses as well). No restart, no reload window: a merchant committed before a client connects is
    trusted by that connection. Trust only grows: which merchant a certificate belongs to is decided
    per request by ``presented_by`` against the calling merchant, read from the store.
    """

    def __init__(self, certificates: Callable[[Collection[str]], Mapping[str, bytes]]) -> None:
        self._certificates = certificates
        self._trusted: set[str] = set()
        self._lock = threading.Lock()

    def install(self, context: ssl.SSLContext) -> None:
        self.refresh(context)
        context.sni_callback = self._on_hello

    def refresh(self, context: ssl.SSLContext) -> None:
        with self._lock:
            for mchid, pem in self._certificates(frozenset(self._trusted)).items():
                context.load_verify_locations(cadata=pem.decode("ascii"))
                self._trusted.add(mchid)

    def _on_hello(self, ssl_object: ssl.SSLObject, _server_name: str | None, context: ssl.SSLContext) -> None:
        try:
            self.refresh(context)
        except Exception:  # the store unreachable: merchants trusted so far stay trusted
            log.exception("TLS: could not read the merchants' certificates from the store")


class ClientCertificateProtocol(HardenedH11Protocol):
    """uvicorn's h11 protocol, plus the ASGI TLS extension (``scope["extensions"]["tls"]``) carrying
    the client certificate the connection presented: uvicorn itself does not expose it."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        der: bytes | None = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        chain = [] if der is None else [_pem(der)]
        inner = self.app

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                extensions = dict(scope.get("extensions") or {})
                extensions["tls"] = {"client_cert_chain": chain, "client_cert_error": None}
                scope["extensions"] = extensions
            await inner(scope, receive, send)

        self.app = app


def _pem(der: bytes) -> str:
    return x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM).decode()


def client_certificate(scope: Scope) -> bytes | None:
    """The PEM certificate the client presented, or None (no TLS, or no certificate)."""
    tls = (scope.get("extensions") or {}).get("tls")
    if not tls or not tls.get("client_cert_chain"):
        return None
    first: str = tls["client_cert_chain"][0]
    return first.encode()


def presented_by(scope: Scope, merchant: Merchant) -> bool:
    """Whether the connection presented ``merchant``'s API certificate (compared as certificates)."""
    pem = client_certificate(scope)
    if pem is None:
        return False
    presented = x509.load_pem_x509_certificate(pem)
    return presented == x509.load_pem_x509_certificate(merchant.merchant_cert_pem)

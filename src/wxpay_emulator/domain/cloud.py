"""Where cloud payment callbacks go: container services (cloud hosting) and cloud functions.

A cloud order does not carry a URL: seed 001 names an ``env_id`` and a ``container{service, path}``
(or a ``function_name``), and seed 003 an ``envId`` and ``functionName``. The emulator maps those to a
local URL that a merchant registers through the control plane; the outbox stores the symbolic address
(``cloud+container://ENV/SERVICE/PATH`` or ``cloud+function://ENV/NAME``) and the dispatcher resolves it
at every attempt, so a callback paid before its service was registered is retried until it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import quote, unquote, urlsplit

from sqlalchemy import select

from wxpay_emulator.domain.errors import DomainError, ErrorCode
from wxpay_emulator.storage.db import Store, insert_or
from wxpay_emulator.storage.tables import cloud_endpoints


class EndpointKind(StrEnum):
    CONTAINER = "container"
    FUNCTION = "function"


@dataclass(frozen=True)
class CloudEndpoint:
    kind: EndpointKind
    env_id: str
    name: str  # the container service, or the function name
    url: str


def container_address(env_id: str, service: str, path: str) -> str:
    """The symbolic notify address of a cloud-hosting order (seed 001's env_id + container)."""
    if not path.startswith("/"):
        path = "/" + path
    return f"cloud+container://{quote(env_id, safe='')}/{quote(service, safe='')}{quote(path)}"


def function_address(env_id: str, function_name: str) -> str:
    """The symbolic notify address of a cloud-function order (seed 003's envId + functionName)."""
    return f"cloud+function://{quote(env_id, safe='')}/{quote(function_name, safe='')}"


class CloudEndpointService:
    def __init__(self, store: Store) -> None:
        self.store = store

    def register(self, kind: EndpointKind, env_id: str, name: str, url: str) -> CloudEndpoint:
        """Register (or move) the URL that receives callbacks for this env's service or function."""
        values = {"kind": kind.value, "env_id": env_id, "name": name, "url": url}
        with self.store.transaction() as conn:
            # One statement: concurrent registrations of one endpoint end in the last URL, not a 500.
            insert_or(conn, cloud_endpoints, ["kind", "env_id", "name"], values, {"url": url})
        return CloudEndpoint(kind, env_id, name, url)

    def list(self, kind: EndpointKind | None = None) -> list[CloudEndpoint]:
        query = select(cloud_endpoints).order_by(
            cloud_endpoints.c.kind, cloud_endpoints.c.env_id, cloud_endpoints.c.name
        )
        if kind is not None:
            query = query.where(cloud_endpoints.c.kind == kind.value)
        with self.store.transaction() as conn:
            rows = conn.execute(query).all()
        return [CloudEndpoint(EndpointKind(r.kind), r.env_id, r.name, r.url) for r in rows]

    def get(self, kind: EndpointKind, env_id: str, name: str) -> CloudEndpoint:
        with self.store.transaction() as conn:
            row = conn.execute(
                select(cloud_endpoints).where(
                    (cloud_endpoints.c.kind == kind.value)
                    & (cloud_endpoints.c.env_id == env_id)
                    & (cloud_endpoints.c.name == name)
                )
            ).first()
        if row is None:
            raise DomainError(
                ErrorCode.CLOUD_ENDPOINT_NOT_FOUND,
                f"no {kind.value} '{name}' registered for env '{env_id}' (POST /emulator/v1/cloud/"
                f"{'services' if kind is EndpointKind.CONTAINER else 'functions'})",
            )
        return CloudEndpoint(EndpointKind(row.kind), row.env_id, row.name, row.url)

    def resolve(self, address: str) -> str:
        """The URL to POST to: ordinary URLs as they are, cloud addresses through the registry (a
        container's registered URL joined with the order's ``container.path``)."""
        if not address.startswith("cloud+"):
            return address
        parts = urlsplit(address)
        env_id = unquote(parts.netloc)
        if parts.scheme == "cloud+container":
            service, _, path = parts.path.lstrip("/").partition("/")
            endpoint = self.get(EndpointKind.CONTAINER, env_id, unquote(service))
            return endpoint.url.rstrip("/") + "/" + path if path else endpoint.url
        if parts.scheme == "cloud+function":
            return self.get(EndpointKind.FUNCTION, env_id, unquote(parts.path.lstrip("/"))).url
        raise DomainError(ErrorCode.CLOUD_ENDPOINT_NOT_FOUND, f"unknown cloud address {address}")

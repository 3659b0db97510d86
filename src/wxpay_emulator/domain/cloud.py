"""Where cloud payment callbacks go: container services (cloud hosting) and cloud functions.

A cloud order does not carry a URL: seed 001 names an ``env_id`` and a ``container{service, path}``
(or a ``function_name``), and seed 003 an ``envId`` and ``functionName``. The emulator maps those to a
local URL that a merchant registers through the control plane; the outbox stores the symbolic address
(``cloud+container://ENV/SERVICE/PATH`` or ``cloud+function://ENV/NAME``) and the dispatcher resolves it
at every attempt, so a callback paid before its service was registered is retried until it is.
"""

from __future__ import annotations

from urllib.parse import quote, unquote, urlsplit

from wxpay_emulator.domain.errors import DomainError, ErrorCode
from wxpay_emulator.domain.models import CloudEndpoint as CloudEndpoint
from wxpay_emulator.domain.models import EndpointKind as EndpointKind
from wxpay_emulator.domain.ports import UnitOfWorkFactory


def container_address(env_id: str, service: str, path: str) -> str:
    """The symbolic notify address of a cloud-hosting order (seed 001's env_id + container)."""
    if not path.startswith("/"):
        path = "/" + path
    return f"cloud+container://{quote(env_id, safe='')}/{quote(service, safe='')}{quote(path)}"


def function_address(env_id: str, function_name: str) -> str:
    """The symbolic notify address of a cloud-function order (seed 003's envId + functionName)."""
    return f"cloud+function://{quote(env_id, safe='')}/{quote(function_name, safe='')}"


class CloudEndpointService:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self.uow = uow

    def register(self, kind: EndpointKind, env_id: str, name: str, url: str) -> CloudEndpoint:
        """Register (or move) the URL that receives callbacks for this env's service or function."""
        endpoint = CloudEndpoint(kind, env_id, name, url)
        with self.uow() as uow:
            # One statement: concurrent registrations of one endpoint end in the last URL, not a 500.
            uow.cloud_endpoints.put(endpoint)
        return endpoint

    def list(self, kind: EndpointKind | None = None) -> list[CloudEndpoint]:
        with self.uow() as uow:
            return uow.cloud_endpoints.list(kind)

    def get(self, kind: EndpointKind, env_id: str, name: str) -> CloudEndpoint:
        with self.uow() as uow:
            found = uow.cloud_endpoints.get(kind, env_id, name)
        if found is None:
            raise DomainError(
                ErrorCode.CLOUD_ENDPOINT_NOT_FOUND,
                f"no {kind.value} '{name}' registered for env '{env_id}' (POST /emulator/v1/cloud/"
                f"{'services' if kind is EndpointKind.CONTAINER else 'functions'})",
            )
        return found

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

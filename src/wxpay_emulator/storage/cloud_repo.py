"""Cloud callback endpoints (``cloud_endpoints``): where a container service or cloud function of an
env is reached. No business rules here; see domain/cloud.py."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, select

from wxpay_emulator.domain.models import CloudEndpoint, EndpointKind
from wxpay_emulator.storage.db import insert_or
from wxpay_emulator.storage.tables import cloud_endpoints


def _endpoint(row: Row[Any]) -> CloudEndpoint:
    return CloudEndpoint(EndpointKind(row.kind), row.env_id, row.name, row.url)


class CloudEndpointRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def put(self, endpoint: CloudEndpoint) -> None:
        values = {
            "kind": endpoint.kind.value,
            "env_id": endpoint.env_id,
            "name": endpoint.name,
            "url": endpoint.url,
        }
        # One statement: concurrent registrations of one endpoint end in the last URL, not a conflict.
        insert_or(self.conn, cloud_endpoints, ["kind", "env_id", "name"], values, {"url": endpoint.url})

    def get(self, kind: EndpointKind, env_id: str, name: str) -> CloudEndpoint | None:
        row = self.conn.execute(
            select(cloud_endpoints).where(
                (cloud_endpoints.c.kind == kind.value)
                & (cloud_endpoints.c.env_id == env_id)
                & (cloud_endpoints.c.name == name)
            )
        ).first()
        return None if row is None else _endpoint(row)

    def list(self, kind: EndpointKind | None = None) -> list[CloudEndpoint]:
        query = select(cloud_endpoints).order_by(
            cloud_endpoints.c.kind, cloud_endpoints.c.env_id, cloud_endpoints.c.name
        )
        if kind is not None:
            query = query.where(cloud_endpoints.c.kind == kind.value)
        return [_endpoint(r) for r in self.conn.execute(query)]

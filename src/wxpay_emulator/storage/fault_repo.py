"""Armed faults (table ``faults``): one row per armed call, taken oldest first by any process."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Connection, and_, delete, insert, not_, select

from wxpay_emulator.storage.tables import faults

TAMPER_PREFIX = "tamper:"


def _of(operation: str, tamper: bool) -> ColumnElement[bool]:
    is_tamper = faults.c.code.startswith(TAMPER_PREFIX, autoescape=True)
    return and_(faults.c.operation == operation, is_tamper if tamper else not_(is_tamper))


class FaultRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, operation: str, code: str, message: str, count: int) -> None:
        if count > 0:
            rows = [{"operation": operation, "code": code, "message": message}] * count
            self.conn.execute(insert(faults), rows)

    def pending(self) -> list[tuple[str, str]]:
        """(operation, code) of every armed fault, oldest first."""
        query = select(faults.c.operation, faults.c.code).order_by(faults.c.id)
        return [(r.operation, r.code) for r in self.conn.execute(query)]

    def armed(self, operation: str, *, tamper: bool = False) -> bool:
        query = select(faults.c.id).where(_of(operation, tamper)).limit(1)
        return self.conn.execute(query).first() is not None

    def take(self, operation: str, *, tamper: bool = False) -> tuple[str, str] | None:
        """Remove and return (code, message) of the oldest fault (or, with ``tamper``, response
        tampering: code ``tamper:<kind>``) armed for ``operation``. Two processes never take the same
        row: PostgreSQL skips rows another transaction holds, SQLite serialises the whole transaction
        (BEGIN IMMEDIATE)."""
        query = select(faults).where(_of(operation, tamper)).order_by(faults.c.id).limit(1)
        if self.conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        row = self.conn.execute(query).first()
        if row is None:
            return None
        self.conn.execute(delete(faults).where(faults.c.id == row.id))
        return row.code, row.message

    def clear(self) -> None:
        self.conn.execute(delete(faults))

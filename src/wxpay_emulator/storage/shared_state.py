"""What every process of one emulator must see at once: the business clock's offset and whether any
fault is armed. Both live in the store; one snapshot read per request (api/shared_state.py) carries
them through that request, so an advance or an arm made through one process is seen by the next
request to any other, at the cost of one indexed read.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from sqlalchemy import exists, select

from wxpay_emulator.storage.db import Store
from wxpay_emulator.storage.tables import faults, settings_kv

CLOCK_OFFSET_KEY = "clock_offset_seconds"

_OFFSET = select(settings_kv.c.value).where(settings_kv.c.key == CLOCK_OFFSET_KEY).scalar_subquery()
_SNAPSHOT = select(_OFFSET, exists().where(faults.c.id.is_not(None)))


@dataclass
class Snapshot:
    clock_offset: float
    faults_armed: bool


_CURRENT: ContextVar[Snapshot | None] = ContextVar("wxpay_emulator_shared_state", default=None)


def read_snapshot(store: Store) -> Snapshot:
    with store.read() as conn:
        offset, armed = conn.execute(_SNAPSHOT).one()
    return Snapshot(float(offset) if offset is not None else 0.0, bool(armed))


def read_clock_offset(store: Store) -> float:
    with store.read() as conn:
        offset = conn.execute(select(_OFFSET)).scalar()
    return float(offset) if offset is not None else 0.0


def current() -> Snapshot | None:
    """The snapshot of the request being served (None outside a request)."""
    return _CURRENT.get()


@contextmanager
def scope(snapshot: Snapshot) -> Iterator[Snapshot]:
    token = _CURRENT.set(snapshot)
    try:
        yield snapshot
    finally:
        _CURRENT.reset(token)

"""The business clock shared by every process on one store (app.py gives it to the domain).

Its offset lives in the store (``POST /emulator/v1/clock`` writes it). A request reads it once, with
the request's snapshot (storage/shared_state.py), so an advance through any process is seen by the
next request to every process. Outside a request (the dispatcher, refunds settling by themselves) the
offset is re-read when the cached value is older than ``max_age`` seconds (50 ms): background work
that runs on a business deadline may be that much late after another process advanced the clock.
"""

from __future__ import annotations

import datetime as dt
import threading
import time

from wxpay_emulator.clock import UTC, Clock
from wxpay_emulator.storage import shared_state
from wxpay_emulator.storage.db import Store


class SharedClock(Clock):
    def __init__(self, store: Store, max_age: float = 0.05) -> None:
        super().__init__(0.0)
        self._store = store
        self._max_age = max_age
        self._read_at = -1e18
        self._lock = threading.Lock()

    def _current(self) -> float:
        snapshot = shared_state.current()
        if snapshot is not None:
            return snapshot.clock_offset
        if time.monotonic() - self._read_at > self._max_age:
            offset = shared_state.read_clock_offset(self._store)
            with self._lock:
                self._offset, self._read_at = offset, time.monotonic()
        return self._offset

    @property
    def offset_seconds(self) -> float:
        return self._current()

    def set_offset(self, seconds: float) -> None:
        with self._lock:
            self._offset, self._read_at = seconds, time.monotonic()
        snapshot = shared_state.current()
        if snapshot is not None:
            snapshot.clock_offset = seconds

    def now(self) -> dt.datetime:
        return dt.datetime.now(UTC) + dt.timedelta(seconds=self._current())

"""The journal's writer: one daemon thread that turns finished calls into rows, logs each (``serve``'s
line per request), and inserts them in batches, one transaction per batch, trimming to the newest
``max_entries`` in the same transaction.

Why a thread: the request only appends to a queue after its response has gone out (about a microsecond);
masking, JSON and the INSERT happen here. The writer lingers :data:`LINGER_SECONDS` after the first call
of a batch so that calls arriving together share one transaction: a transaction per call cost as much
again as the call itself with SQLite (bench/journal_overhead.py). ``flush()`` cuts the wait short and
returns once everything submitted so far is stored (the list route calls it: a client reads its calls).
A queue longer than :data:`MAX_PENDING` (a store that cannot keep up) drops new calls and counts them
rather than grow without bound.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from wxpay_emulator.journal.entries import RawCall, row_of, view_of
from wxpay_emulator.journal.lines import plain, request_parts
from wxpay_emulator.storage import journal_repo
from wxpay_emulator.storage.db import Store

log = logging.getLogger("wxpay_emulator.journal")
request_log = logging.getLogger("wxpay_emulator.requests")

BATCH = 200
MAX_PENDING = 10_000
LINGER_SECONDS = 0.05


class _Flush:
    """Queued by flush(): write what is queued now, without lingering."""


_FLUSH = _Flush()


class JournalWriter:
    def __init__(self, store: Store, max_entries: int) -> None:
        self.store = store
        self.max_entries = max_entries
        self.dropped = 0
        self._queue: queue.SimpleQueue[RawCall | _Flush | None] = queue.SimpleQueue()
        self._cond = threading.Condition()
        self._submitted = 0
        self._done = 0
        self._thread: threading.Thread | None = None
        self._closed = False
        self._listeners: list[Callable[[], None]] = []

    def add_listener(self, callback: Callable[[], None]) -> Callable[[], None]:
        """``callback`` runs in the writer thread after each stored batch; returns its remover."""
        with self._cond:
            self._listeners.append(callback)

        def remove() -> None:
            with self._cond:
                if callback in self._listeners:
                    self._listeners.remove(callback)

        return remove

    def submit(self, raw: RawCall) -> None:
        with self._cond:
            if self._closed or self._submitted - self._done >= MAX_PENDING:
                self.dropped += 1
                return
            self._submitted += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="wxpay-emulator-journal", daemon=True)
                self._thread.start()
        self._queue.put(raw)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait (at most ``timeout`` seconds) until every call submitted before now is processed."""
        deadline = time.monotonic() + timeout
        with self._cond:
            target = self._submitted
            if self._done < target:
                self._queue.put(_FLUSH)
            while self._done < target:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Store what is queued, then stop the thread."""
        with self._cond:
            self._closed = True
            thread = self._thread
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if isinstance(item, _Flush):
                continue
            batch: list[RawCall] = []
            stop = item is None
            if item is not None:
                batch.append(item)
            linger_until = time.monotonic() + LINGER_SECONDS
            while not stop and len(batch) < BATCH:
                remaining = linger_until - time.monotonic()
                try:
                    more = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                elif isinstance(more, _Flush):
                    linger_until = 0.0  # take what is queued, then write
                else:
                    batch.append(more)
            if batch:
                self._write(batch)
            if stop:
                return

    def _write(self, batch: list[RawCall]) -> None:
        rows: list[dict[str, Any]] = []
        began: list[float] = []
        for raw in batch:
            try:
                row, at = row_of(raw), raw.time.timestamp()
                rows.append(row)
                began.append(at)
            except Exception:  # one odd call must not lose the others
                log.exception("journal entry of %s %s could not be built", raw.method, raw.path)
        if request_log.isEnabledFor(logging.INFO):
            for row in rows:
                request_log.info("%s", plain(request_parts(view_of({**row, "id": 0}, bodies=False))))
        try:
            if self.max_entries > 0 and rows:
                with self.store.transaction() as conn:
                    # A call that began before the last reset (made by any process) is forgotten with it.
                    since = journal_repo.last_reset(conn)
                    kept = [row for row, at in zip(rows, began, strict=True) if at >= since]
                    journal_repo.insert_rows(conn, kept)
                    journal_repo.trim(conn, self.max_entries)
        except Exception:  # a database hiccup loses this batch, never the process or the thread
            log.exception("journal batch of %d entries could not be stored", len(rows))
        with self._cond:
            self._done += len(batch)
            self._cond.notify_all()
            listeners = list(self._listeners)
        for callback in listeners:
            try:
                callback()
            except Exception:
                log.exception("journal listener failed")

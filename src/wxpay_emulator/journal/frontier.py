"""How far an id-ordered event stream may move its cursor without ever skipping a row that is still
being committed.

The stream reads rows in id order (``journal.id``, ``notification_attempts.id``) and remembers one
number per table: every id up to it has been sent or given up. On PostgreSQL with several processes
(docs/scale-out.md) an id is taken at INSERT but rows become visible at COMMIT, in any order: process A
takes id 10, process B takes 11 and commits first. A stream that saw 11 and moved its cursor past it
would never send 10. A gap below the newest visible id is therefore one of

- a row still in flight: its transaction took the id before the higher id was taken, and will commit;
- an id that will never appear: a rolled-back insert, a row trimmed or reset away, a sequence jump.

No query tells the two apart cheaply, so the cursor is held back at the lowest gap for a bounded
grace period, then the gap is given up. The clock of a gap starts when an id above it is first seen
(the gap's own transaction began before that id was taken, so it has been open at least that long):

    checkpoints  (t, top): at time t the newest visible id was top
    settled      the highest top seen at least ``grace`` seconds ago: every id at or below it is either
                 visible now or given up (its transaction would have been open for over ``grace``)

The new cursor is the end of the run of visible ids above it, continued across gaps wholly at or below
``settled``. With no gaps (the common case) that is the newest id at once: no added latency. A gap
costs at most ``grace`` (plus one poll) of latency for the rows above it, which are then sent in order.
A row whose transaction stays open longer than ``grace`` after a higher id became visible is not sent
(it stays in the journal). On SQLite writers are serialized (an id is taken under the write lock held
until commit), so every gap is final when seen and the grace is 0.

This module is pure (no store, no clock of its own): ``EventFeed`` (journal/events.py) feeds it.
"""

from __future__ import annotations

from collections.abc import Sequence

# Checkpoints kept per stream: enough for one poll every 50 ms over a 5 s grace. When full the newest is
# overwritten, which only moves a later first-seen time onto ids (a gap is given up later, never sooner).
MAX_CHECKPOINTS = 128


class IdFrontier:
    """The cursor of one id sequence: ``after`` is the id up to which everything was sent or given up."""

    def __init__(self, after: int, grace: float) -> None:
        if grace < 0:
            raise ValueError("grace must be >= 0")
        self.after = after
        self.grace = grace
        self._checkpoints: list[tuple[float, int]] = []  # (time, newest visible id), both increasing

    def restart(self, after: int) -> None:
        """Ids start again below the cursor (SQLite ids after a reset): forget what was seen."""
        self.after = after
        self._checkpoints.clear()

    def observe(self, top: int, now: float) -> None:
        """At ``now`` the newest visible id is ``top`` (read before ``now``)."""
        if self._checkpoints and top <= self._checkpoints[-1][1]:
            return
        if len(self._checkpoints) >= MAX_CHECKPOINTS:
            self._checkpoints[-1] = (now, top)
        else:
            self._checkpoints.append((now, top))

    def settled(self, now: float) -> int | None:
        """Every id at or below this is visible or given up; None: nothing is settled yet."""
        if self.grace == 0:
            del self._checkpoints[:-1]
            return self._checkpoints[-1][1] if self._checkpoints else None
        horizon = now - self.grace
        old = [top for at, top in self._checkpoints if at <= horizon]
        if not old:
            return None
        # Only the newest old checkpoint matters from now on: drop the ones before it.
        del self._checkpoints[: len(old) - 1]
        return old[-1]

    def upto(self, present: Sequence[int], top: int, now: float, complete: bool) -> int:
        """How far the cursor may go. ``present``: the visible ids above ``after`` and at most ``top``,
        ascending; ``complete``: it lists all of them (not cut at a batch size). Call ``observe`` first."""
        settled = self.settled(now)
        floor = self.after if settled is None else max(self.after, min(settled, top))
        expected = self.after + 1
        for row_id in present:
            if row_id > expected and row_id - 1 > floor:
                # Ids expected .. row_id - 1 are missing and not all settled: hold back at the gap.
                return max(expected - 1, min(floor, row_id - 1))
            expected = row_id + 1
        last = expected - 1
        return max(last, floor) if complete else last

    def advance(self, to: int) -> None:
        if to > self.after:
            self.after = to

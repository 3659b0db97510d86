"""The event stream's cursor rule (journal/frontier.py): a gap below a newer id holds the cursor back for
at most ``grace`` seconds from when the newer id was first seen; no gap costs nothing."""

from __future__ import annotations

import pytest

from wxpay_emulator.journal.frontier import MAX_CHECKPOINTS, IdFrontier


def step(frontier: IdFrontier, present: list[int], top: int, now: float, complete: bool = True) -> int:
    """One poll: observe, compute how far the cursor may go, move it there."""
    frontier.observe(top, now)
    upto = frontier.upto([i for i in present if i > frontier.after], top, now, complete)
    frontier.advance(upto)
    return upto


def test_without_gaps_the_cursor_goes_to_the_newest_id_at_once() -> None:
    frontier = IdFrontier(10, grace=5.0)
    assert step(frontier, [11, 12, 13], 13, now=0.0) == 13
    assert step(frontier, [11, 12, 13, 14], 14, now=0.1) == 14
    assert step(frontier, [], 14, now=0.2) == 14


def test_a_gap_holds_the_cursor_until_it_fills() -> None:
    frontier = IdFrontier(10, grace=5.0)
    assert step(frontier, [11, 13, 14], 14, now=0.0) == 11  # 12 may still be committing
    assert step(frontier, [13, 14], 14, now=4.9) == 11
    assert step(frontier, [12, 13, 14], 14, now=4.95) == 14  # 12 committed: all three go


def test_a_gap_is_given_up_once_a_newer_id_has_been_seen_for_the_grace() -> None:
    frontier = IdFrontier(10, grace=1.0)
    assert step(frontier, [11, 13], 13, now=100.0) == 11
    assert step(frontier, [13, 15], 15, now=100.5) == 11  # 12 seen missing since 100.0, 14 since 100.5
    assert step(frontier, [13, 15], 15, now=100.99) == 11
    # At 101.0 the checkpoint (100.0, 13) is a grace old: 12 is given up, 14 is not yet.
    assert step(frontier, [13, 15], 15, now=101.0) == 13
    assert step(frontier, [15], 15, now=101.49) == 13
    assert step(frontier, [15], 15, now=101.5) == 15


def test_a_run_of_missing_ids_is_given_up_to_the_settled_id_only() -> None:
    frontier = IdFrontier(0, grace=1.0)
    assert step(frontier, [5], 5, now=0.0) == 0  # 1..4 missing since 0.0
    assert step(frontier, [5, 9], 9, now=0.5) == 0  # 6..8 missing since 0.5
    assert step(frontier, [5, 9], 9, now=1.2) == 5  # 1..4 given up, 5 sent, 6..8 still waited for
    assert step(frontier, [7, 9], 9, now=1.3) == 5  # 7 came: 6 is still missing
    assert step(frontier, [6, 7, 9], 9, now=1.4) == 7
    assert step(frontier, [9], 9, now=1.5) == 9  # 8 given up (seen missing since 0.5)


def test_a_cut_scan_never_jumps_over_ids_it_did_not_list() -> None:
    frontier = IdFrontier(0, grace=0.0)
    # Only the first two ids were listed (batch full); 3..10 exist but were not read yet.
    assert step(frontier, [1, 2], 10, now=0.0, complete=False) == 2
    assert step(frontier, [3, 4, 5, 6, 7, 8, 9, 10], 10, now=0.1) == 10


def test_grace_zero_gives_every_gap_up_at_once() -> None:
    """SQLite: a gap is a deleted or rolled-back id, final when seen (the old behaviour)."""
    frontier = IdFrontier(0, grace=0.0)
    assert step(frontier, [2, 5], 5, now=0.0) == 5
    assert step(frontier, [], 9, now=0.0) == 9  # the newest rows were deleted since: passed over


def test_restart_forgets_what_was_seen() -> None:
    frontier = IdFrontier(0, grace=1.0)
    step(frontier, [50], 50, now=0.0)
    frontier.restart(0)
    assert frontier.after == 0
    assert step(frontier, [1, 3], 3, now=5.0) == 1  # 2 is waited for again: its clock starts now


def test_checkpoints_stay_bounded_and_never_give_up_early() -> None:
    frontier = IdFrontier(0, grace=10.0)
    for i in range(1, 5 * MAX_CHECKPOINTS):
        frontier.observe(i + 1, now=i * 0.001)  # id 1 is missing from the start
        assert frontier.upto([i + 1], i + 1, now=i * 0.001, complete=True) == 0
    assert len(frontier._checkpoints) <= MAX_CHECKPOINTS
    present = list(range(2, 5 * MAX_CHECKPOINTS + 1))
    assert frontier.upto(present, present[-1], now=9.99, complete=True) == 0
    # Id 2 was first seen at 0.001: id 1 is given up a grace later, not before.
    assert frontier.upto(present, present[-1], now=10.0005, complete=True) == 0
    assert frontier.upto(present, present[-1], now=10.01, complete=True) == present[-1]


def test_grace_must_not_be_negative() -> None:
    with pytest.raises(ValueError):
        IdFrontier(0, grace=-1.0)

"""WeChat Pay's notification retry schedule (DESIGN.md §2), as a pure function.

After the first delivery fails, WeChat tries again after 15s, 15s, 30s, 3m, 10m, 20m, 30m, 30m, 30m,
60m, 3h, 3h, 3h, 6h, 6h: sixteen deliveries in all, then it gives up.
"""

from __future__ import annotations

RETRY_DELAYS_SECONDS: tuple[int, ...] = (
    15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600,
)  # fmt: skip

MAX_ATTEMPTS = 1 + len(RETRY_DELAYS_SECONDS)


def next_delay(attempts_made: int, time_scale: float = 1.0) -> float | None:
    """Seconds to wait after ``attempts_made`` failed deliveries, or None when WeChat gives up."""
    if attempts_made < 1:
        raise ValueError("attempts_made counts deliveries already tried, at least 1")
    if attempts_made > len(RETRY_DELAYS_SECONDS):
        return None
    return RETRY_DELAYS_SECONDS[attempts_made - 1] * time_scale

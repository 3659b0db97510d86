"""The only place that reads time.

Two clocks: the real one, for protocol timestamps (request freshness, response headers), which SDKs
check against their own clocks (DESIGN.md §3); and the business clock, real time plus an offset that the
control plane can move forward, for prepay expiry and the notification retry schedule.
"""

from __future__ import annotations

import datetime as dt
import time

UTC = dt.UTC
CHINA = dt.timezone(dt.timedelta(hours=8))


class Clock:
    def __init__(self, offset_seconds: float = 0.0) -> None:
        self._offset = offset_seconds

    @property
    def offset_seconds(self) -> float:
        return self._offset

    def set_offset(self, seconds: float) -> None:
        self._offset = seconds

    def now(self) -> dt.datetime:
        """Business time (aware, UTC)."""
        return dt.datetime.now(UTC) + dt.timedelta(seconds=self._offset)

    @staticmethod
    def real_now() -> dt.datetime:
        return dt.datetime.now(UTC)

    @staticmethod
    def real_timestamp() -> int:
        return int(time.time())


def rfc3339(moment: dt.datetime) -> str:
    """WeChat's form: ``2018-06-08T10:34:56+08:00``, Beijing time, whole seconds."""
    return moment.astimezone(CHINA).replace(microsecond=0).isoformat()


def parse_rfc3339(text: str) -> dt.datetime:
    """Parse ``yyyy-MM-DDTHH:mm:ss+TIMEZONE``; raise ValueError if the zone is missing."""
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None or "T" not in text:
        raise ValueError("time must be RFC 3339 with a time zone, e.g. 2018-06-08T10:34:56+08:00")
    try:
        moment.astimezone(CHINA)  # rfc3339() prints it in Beijing time: it must exist there too
        return moment.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("time out of range") from exc

"""Settings of one emulator process. Every field reads ``WXPAY_EMULATOR_<NAME>`` from the environment."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WXPAY_EMULATOR_")

    host: str = "127.0.0.1"
    port: int = 8600
    data_dir: Path = Path(".wxpay-emulator")
    # None: SQLite in the data dir. postgresql://user@host/db selects PostgreSQL (psycopg 3).
    database_url: str | None = None
    # Multiplies WeChat's notification retry delays: 0.01 turns 15 s into 0.15 s for tests.
    notify_time_scale: float = 1.0
    # WeChat waits 5 s for the merchant's answer before it counts a delivery as failed. At most 60 s:
    # a notification's signature is then at most about 2 minutes old when sent (notify/signing.py).
    notify_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    dispatcher_poll_seconds: float = 0.2
    # Refuse APIv3 requests whose timestamp is further than this from the real clock.
    max_clock_skew_seconds: int = 300
    # HTTPS with client certificates; /secapi/ then requires the merchant's API certificate (tls.py).
    tls: bool = False
    # A new refund is PROCESSING for this long (business clock) before it succeeds by itself.
    refund_delay_seconds: float = 5.0
    # Cloud payments (/_/pay, /_/cloudpay): the calling Mini Program when a request has no X-WX-APPID.
    cloud_appid: str = "wxd678efh567hg6787"
    # Record every call of every family (the journal, serve's line per request, the event stream's
    # requests). Off only to measure what recording costs (bench/journal_overhead.py).
    journal: bool = True
    # The request journal keeps the newest this many calls (0: keep none; serve still logs each call).
    journal_max_entries: int = 10_000
    # How often the event stream (/emulator/v1/events) looks for what another process wrote.
    events_poll_seconds: float = 0.25
    # PostgreSQL: how long the event stream waits for an id below a newer row to commit before it gives
    # that id up as rolled back (another process's transaction may commit out of id order).
    events_gap_grace_seconds: float = 5.0
    # Tests only: new merchants take their RSA keys in turn from the *.pem files here instead of
    # generating them (crypto/keys.py PooledKeys), so a suite that starts many processes pays once.
    key_pool_dir: Path | None = None

    # Connections (serving.py): a request head must be complete this long after the connection opened
    # or the previous answer ended; an idle keep-alive connection is closed after keep_alive_seconds.
    head_timeout_seconds: float = 10.0
    keep_alive_seconds: int = 5

    # The control plane and pages require this token (api/control_token.py) when set, when
    # require_token is on, or when host is not a loopback address (then generated if not set).
    control_token: str | None = None
    require_token: bool = False

    def resolved_database_url(self) -> str:
        url = self.database_url
        if not url:
            return f"sqlite:///{(self.data_dir / 'emulator.db').resolve()}"
        if url.startswith("postgresql://") or url.startswith("postgres://"):
            return "postgresql+psycopg://" + url.split("://", 1)[1]
        return url

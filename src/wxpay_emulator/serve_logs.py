"""``serve``'s line per request (journal/writer.py, logger ``wxpay_emulator.requests``) and per
delivery attempt (notify/attempt_log.py, ``wxpay_emulator.deliveries``) on stdout; ``--quiet`` silences
them. Configured by ``serve`` in its process, and by each worker of ``serve --workers N`` (app.py's
``create_app_from_env``, from ``WXPAY_EMULATOR_QUIET``)."""

from __future__ import annotations

import logging
import sys

LOGGERS = ("wxpay_emulator.requests", "wxpay_emulator.deliveries")
_HANDLER_NAME = "wxpay-emulator-serve-lines"


def configure_serve_logs(quiet: bool) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(logging.Formatter("%(message)s"))
    for name in LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(logging.WARNING if quiet else logging.INFO)
        logger.propagate = False
        if not quiet and not any(h.get_name() == _HANDLER_NAME for h in logger.handlers):
            logger.addHandler(handler)


def quiet_from_env(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")

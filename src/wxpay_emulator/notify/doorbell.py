"""The dispatcher's one wake-up (notify/dispatcher.py), rung from any thread."""

from __future__ import annotations

import asyncio


class Doorbell:
    """What the domain rings when it writes a notification row, made before the domain so that the
    dispatcher (made after it, from it) needs no patching: create_app passes ``ring`` to the domain
    and the doorbell to the dispatcher. It is the dispatcher's one wake-up: the dispatcher rings it
    itself when a slot frees."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.loop: asyncio.AbstractEventLoop | None = None

    def ring(self) -> None:
        """Thread-safe: called from the threadpool when a notification row is written."""
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self.event.set)

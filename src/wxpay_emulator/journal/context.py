"""The request-scoped note of the journal (a contextvar holding a mutable object).

The journal middleware sets a fresh :class:`RequestNote` before the request runs; the verifiers (APIv3
``auth.py``, APIv2 ``common.py``, ``getsignkey``) write the caller's mchid and their signature verdict into
it. Routes run in the middleware's task (or in a thread with a copy of its context), and the note is one
shared object, so what they write is what the middleware reads after the response. Outside a journalled
request (control plane, unit tests calling a verifier directly) there is no note and writes are no-ops.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Any


@dataclass
class RequestNote:
    mchid: str | None = None
    # {"ok": bool, "reason": str | None, "expected_message": str | None, "scheme": str, ...}
    sign_check: dict[str, Any] | None = None


_current: ContextVar[RequestNote | None] = ContextVar("wxpay_emulator_journal_note", default=None)


def begin() -> tuple[RequestNote, Token[RequestNote | None]]:
    note = RequestNote()
    return note, _current.set(note)


def end(token: Token[RequestNote | None]) -> None:
    _current.reset(token)


def current() -> RequestNote | None:
    return _current.get()


def note_mchid(mchid: str | None) -> None:
    note = _current.get()
    if note is not None and mchid:
        note.mchid = mchid


def note_sign_check(
    ok: bool, reason: str | None = None, expected_message: str | None = None, **details: Any
) -> None:
    """Record the verdict of the request's signature check (the last one wins)."""
    note = _current.get()
    if note is None:
        return
    verdict: dict[str, Any] = {
        "ok": ok,
        "reason": None if ok else reason,
        "expected_message": expected_message,
    }
    verdict.update({k: v for k, v in details.items() if v is not None})
    note.sign_check = verdict

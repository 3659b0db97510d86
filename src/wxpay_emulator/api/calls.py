"""How a route calls the (synchronous) domain.

PostgreSQL: in the threadpool, so network waits never block the event loop. SQLite: inline. Its
transactions take ~0.2 ms and are serialised by one lock anyway (storage/db.py), and the hop to a worker
thread and back (GIL hand-offs) cost more than the call: bench/create_orders.py measured the ratio to
the signed echo at 0.47-0.49 with the hop and 0.55-0.57 without.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from wxpay_emulator.domain.services import Domain

P = ParamSpec("P")
T = TypeVar("T")


def domain_of(request: Request) -> Domain:
    """The process's domain, which app.py put on the application state."""
    domain: Domain = request.app.state.domain
    return domain


async def call(request: Request, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    if domain_of(request).uow.inline_calls:
        return fn(*args, **kwargs)
    return await run_in_threadpool(fn, *args, **kwargs)

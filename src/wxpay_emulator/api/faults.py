"""Fault injection: the next N calls of an operation answer a given WeChat error code.

Some codes of seeds 002/004 (SYSTEM_ERROR, BANK_ERROR, FREQUENCY_LIMITED, ACCOUNT_ERROR ...) come from
WeChat's side and no merchant input produces them; merchants still have to handle them. ``POST
/emulator/v1/faults`` arms them; a fault is taken after authentication, so its answer is signed like
any other error of its family (APIv3: api/v3/common.py; APIv2: api/v2/common.py).

The operations that can be armed are not listed here: each route declares the operation it serves
(``**operation("pay.prepay")`` in its decorator), and create_app collects them from the family
registry, each with the codes its family can answer (:meth:`Faults.from_routes`).

With a store, armed faults live in its ``faults`` table, so every process of one emulator (``serve
--workers N``, several hosts on one database) sees an arm or a clear at once and each armed call is
taken by exactly one request. Without one (unit tests), they live in this object.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.routing import BaseRoute

from wxpay_emulator.storage import shared_state
from wxpay_emulator.storage.db import Store
from wxpay_emulator.storage.fault_repo import TAMPER_PREFIX, FaultRepo

OPERATION_KEY = "x-wxpay-operation"
FAULTS_KEY = "x-wxpay-faults"


def operation(name: str, *, faults: bool = True) -> dict[str, Any]:
    """Keywords of a route decorator naming the WeChat operation the route serves. The name is a row
    of docs/coverage.md and gives the route's OpenAPI tag (:func:`tag_of`); with ``faults`` (the
    route takes an armed fault after authentication) it is what ``POST /emulator/v1/faults`` arms."""
    return {"openapi_extra": {OPERATION_KEY: name, FAULTS_KEY: faults}}


def operation_of(route: BaseRoute) -> str | None:
    """The operation a route declared (None for one that declared none: catch-alls, pages)."""
    if not isinstance(route, APIRoute) or not route.openapi_extra:
        return None
    name = route.openapi_extra.get(OPERATION_KEY)
    return name if isinstance(name, str) else None


def api_routes(routes: Iterable[BaseRoute]) -> Iterator[APIRoute]:
    """Every APIRoute under ``routes``, included routers walked (FastAPI 0.12x copies an included
    router's routes; later versions keep the router, with its routes under ``original_router``)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        else:
            inner = getattr(route, "original_router", None)
            if inner is not None:
                yield from api_routes(inner.routes)


def takes_faults(route: BaseRoute) -> bool:
    return operation_of(route) is not None and bool(getattr(route, "openapi_extra", {}).get(FAULTS_KEY))


def tag_of(operation_name: str) -> str:
    """The OpenAPI tag of an operation: its group (``pay.prepay`` -> ``pay``)."""
    return operation_name.split(".", 1)[0]


def declared_operation(request: Request) -> str:
    """The operation of the route serving ``request`` (FastAPI puts the matched route in the scope)."""
    name = operation_of(request.scope["route"])
    if name is None:
        raise LookupError(f"route of {request.url.path} declares no operation")
    return name


@dataclass(frozen=True)
class Fault:
    code: str
    message: str

    @property
    def custom(self) -> bool:
        """The message was given when armed (else the family's own text for the code may answer)."""
        return self.message != default_message(self.code)


def default_message(code: str) -> str:
    return f"{code} (injected by wxpay-emulator)"


class Faults:
    def __init__(
        self,
        codes: Mapping[str, Iterable[str]],
        tampers: Mapping[str, Iterable[str]] | None = None,
        store: Store | None = None,
    ) -> None:
        """``codes``: each operation that can be armed, with the codes its family can answer;
        ``tampers``: the operations whose answers carry signature headers, with the kinds of response
        tampering their family applies (APIv3: api/v3/tamper.py); ``store``: where armed faults and
        tampers live (shared by every process); None keeps them in this object."""
        self.codes = {op: frozenset(c) for op, c in codes.items()}
        self.tampers = {op: frozenset(k) for op, k in (tampers or {}).items() if k}
        self._store = store
        self._queues: dict[str, deque[Fault]] = {}
        self._tamper_queues: dict[str, deque[str]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_routes(
        cls,
        families: Iterable[tuple[Iterable[BaseRoute], Iterable[str], Iterable[str]]],
        store: Store | None = None,
    ) -> Faults:
        """The operations declared by each family's routes, armed with that family's codes and the
        response tampering kinds the family applies: ``(routes, codes, tampers)`` per family; armed
        faults kept in ``store`` when one is given."""
        codes: dict[str, frozenset[str]] = {}
        tampers: dict[str, frozenset[str]] = {}
        for routes, family_codes, kinds in families:
            for route in api_routes(routes):
                name = operation_of(route)
                if name is not None and takes_faults(route):
                    codes[name] = frozenset(family_codes)
                    tampers[name] = frozenset(kinds)
        return cls(codes, tampers, store)

    def arm_tamper(self, operation: str, kind: str, count: int) -> None:
        """The next ``count`` answers of ``operation`` carry signature headers broken as ``kind`` says."""
        if operation not in self.tampers:
            raise ValueError(f"unknown operation {operation!r} for tamper; one of {sorted(self.tampers)}")
        if kind not in self.tampers[operation]:
            raise ValueError(f"unknown tamper {kind!r}; one of {sorted(self.tampers[operation])}")
        if self._store is not None:
            with self._store.transaction() as conn:
                FaultRepo(conn).add(operation, TAMPER_PREFIX + kind, kind, count)
            return
        with self._lock:
            self._tamper_queues.setdefault(operation, deque()).extend([kind] * count)

    def take_tamper(self, operation: str) -> str | None:
        """The next armed tamper of ``operation``, taken off its queue."""
        if self._store is not None:
            taken = self._take_stored(operation, tamper=True)
            return None if taken is None else taken[0].removeprefix(TAMPER_PREFIX)
        with self._lock:
            queue = self._tamper_queues.get(operation)
            return queue.popleft() if queue else None

    def arm(self, operation: str, code: str, count: int, message: str | None = None) -> None:
        if operation not in self.codes:
            raise ValueError(f"unknown operation {operation!r}; one of {sorted(self.codes)}")
        if code not in self.codes[operation]:
            raise ValueError(f"unknown code {code!r}; one of {sorted(self.codes[operation])}")
        fault = Fault(code, message or default_message(code))
        if self._store is not None:
            with self._store.transaction() as conn:
                FaultRepo(conn).add(operation, fault.code, fault.message, count)
            return
        with self._lock:
            self._queues.setdefault(operation, deque()).extend([fault] * count)

    def pending(self) -> dict[str, list[str]]:
        """Armed codes per operation, then its armed tampers as ``tamper:<kind>``."""
        if self._store is not None:
            with self._store.read() as conn:
                rows = FaultRepo(conn).pending()
            codes: dict[str, list[str]] = {}
            kinds: dict[str, list[str]] = {}
            for operation, code in rows:
                (kinds if code.startswith(TAMPER_PREFIX) else codes).setdefault(operation, []).append(code)
            for operation, tampered in kinds.items():
                codes.setdefault(operation, []).extend(tampered)
            return codes
        with self._lock:
            found = {op: [f.code for f in q] for op, q in self._queues.items() if q}
            for op, queued in self._tamper_queues.items():
                found.setdefault(op, []).extend(f"{TAMPER_PREFIX}{k}" for k in queued)
            return {op: items for op, items in found.items() if items}

    def clear(self) -> None:
        if self._store is not None:
            with self._store.transaction() as conn:
                FaultRepo(conn).clear()
            return
        with self._lock:
            self._queues.clear()
            self._tamper_queues.clear()

    def pop(self, operation: str) -> Fault | None:
        """The next armed fault of ``operation``, taken off its queue."""
        if self._store is not None:
            taken = self._take_stored(operation, tamper=False)
            return None if taken is None else Fault(*taken)
        with self._lock:
            queue = self._queues.get(operation)
            return queue.popleft() if queue else None

    def _take_stored(self, operation: str, *, tamper: bool) -> tuple[str, str] | None:
        assert self._store is not None
        # Nearly every call finds nothing armed: the request's snapshot (api/shared_state.py) says
        # so without a query; outside a request, a read that takes no write lock.
        snapshot = shared_state.current()
        if snapshot is not None and not snapshot.faults_armed:
            return None
        with self._store.read() as conn:
            if not FaultRepo(conn).armed(operation, tamper=tamper):
                return None
        with self._store.transaction() as conn:
            return FaultRepo(conn).take(operation, tamper=tamper)

"""Fault injection: the next N calls of an APIv3 operation answer a given WeChat error code.

Some codes of seeds 002/004 (SYSTEM_ERROR, BANK_ERROR, FREQUENCY_LIMITED, ACCOUNT_ERROR ...) come from
WeChat's side and no merchant input produces them; merchants still have to handle them. ``POST
/emulator/v1/faults`` arms them; a fault is taken after authentication, so its answer is signed like
any other APIv3 error.

With a store, armed faults live in its ``faults`` table, so every process of one emulator (``serve
--workers N``, several hosts on one database) sees an arm or a clear at once and each armed call is
taken by exactly one request. Without one (unit tests), they live in this object.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

from wxpay_emulator.api.v3.errors import V3Error
from wxpay_emulator.storage import shared_state
from wxpay_emulator.storage.db import Store
from wxpay_emulator.storage.fault_repo import FaultRepo

# Every code of seed 002's table and seed 004's (which spells some without the underscore), with the
# HTTP status the seed gives it.
FAULT_STATUS: dict[str, int] = {
    "USERPAYING": 202,
    "TRADE_ERROR": 403,
    "SYSTEM_ERROR": 500,
    "SYSTEMERROR": 500,
    "SIGN_ERROR": 401,
    "RULE_LIMIT": 403,
    "RULELIMIT": 403,
    "PARAM_ERROR": 400,
    "OUT_TRADE_NO_USED": 403,
    "ORDER_NOT_EXIST": 404,
    "ORDER_CLOSED": 400,
    "OPENID_MISMATCH": 500,
    "NOT_ENOUGH": 403,
    "NO_AUTH": 403,
    "NOAUTH": 403,
    "MCH_NOT_EXISTS": 400,
    "INVALID_TRANSACTIONID": 500,
    "INVALID_REQUEST": 400,
    "FREQUENCY_LIMITED": 429,
    "BANK_ERROR": 500,
    "APPID_MCHID_NOT_MATCH": 400,
    "ACCOUNT_ERROR": 403,
    # 申请退款's WeChat-side codes: the payer's account is closed; the merchant's balance is short
    # (NOT_ENOUGH, above) belongs here too.
    "USER_ACCOUNT_ABNORMAL": 403,
}

# Operations that can be armed: the route names the one it serves.
OPERATIONS = frozenset(
    {
        "pay.prepay",
        "pay.query",
        "pay.close",
        "partner.prepay",
        "partner.query",
        "partner.close",
        "combine.prepay",
        "combine.query",
        "combine.close",
        "certificates",
        "refund.create",
        "refund.query",
    }
)

# APIv2 operations answer a signed result_code=FAIL with one of these err_codes (api/v2/common.py).
V2_OPERATIONS = frozenset(
    {"v2.unifiedorder", "v2.orderquery", "v2.closeorder", "v2.refund", "v2.refundquery"}
)
V2_FAULT_CODES = frozenset(
    {"SYSTEMERROR", "NOTENOUGH", "NOAUTH", "INVALID_REQUEST", "FREQUENCY_LIMITED", "BIZERR_NEED_RETRY"}
)


@dataclass(frozen=True)
class Fault:
    code: str
    message: str


class Faults:
    def __init__(self, store: Store | None = None) -> None:
        self._store = store
        self._queues: dict[str, deque[Fault]] = {}
        self._lock = threading.Lock()

    def arm(self, operation: str, code: str, count: int, message: str | None = None) -> None:
        if operation in V2_OPERATIONS:
            if code not in V2_FAULT_CODES:
                raise ValueError(f"unknown code {code!r}; one of {sorted(V2_FAULT_CODES)}")
        elif operation not in OPERATIONS:
            every = sorted(OPERATIONS | V2_OPERATIONS)
            raise ValueError(f"unknown operation {operation!r}; one of {every}")
        elif code not in FAULT_STATUS:
            raise ValueError(f"unknown code {code!r}; one of {sorted(FAULT_STATUS)}")
        fault = Fault(code, message or f"{code} (injected by wxpay-emulator)")
        if self._store is not None:
            with self._store.transaction() as conn:
                FaultRepo(conn).add(operation, fault.code, fault.message, count)
            return
        with self._lock:
            self._queues.setdefault(operation, deque()).extend([fault] * count)

    def pending(self) -> dict[str, list[str]]:
        if self._store is not None:
            with self._store.read() as conn:
                rows = FaultRepo(conn).pending()
            out: dict[str, list[str]] = {}
            for operation, code in rows:
                out.setdefault(operation, []).append(code)
            return out
        with self._lock:
            return {op: [f.code for f in q] for op, q in self._queues.items() if q}

    def clear(self) -> None:
        if self._store is not None:
            with self._store.transaction() as conn:
                FaultRepo(conn).clear()
            return
        with self._lock:
            self._queues.clear()

    def pop(self, operation: str) -> Fault | None:
        """The next armed fault of ``operation``, taken off its queue."""
        if self._store is not None:
            # Nearly every call finds nothing armed: the request's snapshot (api/shared_state.py) says
            # so without a query; outside a request, a read that takes no write lock.
            snapshot = shared_state.current()
            if snapshot is not None and not snapshot.faults_armed:
                return None
            with self._store.read() as conn:
                if not FaultRepo(conn).armed(operation):
                    return None
            with self._store.transaction() as conn:
                taken = FaultRepo(conn).take(operation)
            return None if taken is None else Fault(*taken)
        with self._lock:
            queue = self._queues.get(operation)
            return queue.popleft() if queue else None

    def take(self, operation: str) -> None:
        """Raise the next armed fault of an APIv3 ``operation``, if any."""
        fault = self.pop(operation)
        if fault is not None:
            raise V3Error(FAULT_STATUS[fault.code], fault.code, fault.message)

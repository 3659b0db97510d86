"""The domain's unit of work (domain/ports.py) over :class:`Store`: one transaction, its repositories,
its after-commit callbacks, and a unique-key collision turned into the domain's :class:`Conflict`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import cached_property

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from wxpay_emulator.domain.ports import Conflict, UnitOfWork
from wxpay_emulator.storage.cloud_repo import CloudEndpointRepo
from wxpay_emulator.storage.combine_repo import CombineRepo
from wxpay_emulator.storage.db import Store, after_commit
from wxpay_emulator.storage.mp_repo import MiniProgramRepo
from wxpay_emulator.storage.outbox_repo import OutboxRepo
from wxpay_emulator.storage.refund_repo import RefundRepo
from wxpay_emulator.storage.repositories import (
    MerchantRepo,
    OrderRepo,
    StateRepo,
    reset_business_data,
)


class SqlUnitOfWork:
    """One open transaction; each repository is made on first use."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    @cached_property
    def merchants(self) -> MerchantRepo:
        return MerchantRepo(self.conn)

    @cached_property
    def orders(self) -> OrderRepo:
        return OrderRepo(self.conn)

    @cached_property
    def combines(self) -> CombineRepo:
        return CombineRepo(self.conn)

    @cached_property
    def refunds(self) -> RefundRepo:
        return RefundRepo(self.conn)

    @cached_property
    def notifications(self) -> OutboxRepo:
        return OutboxRepo(self.conn)

    @cached_property
    def apps(self) -> MiniProgramRepo:
        return MiniProgramRepo(self.conn)

    @cached_property
    def cloud_endpoints(self) -> CloudEndpointRepo:
        return CloudEndpointRepo(self.conn)

    @cached_property
    def state(self) -> StateRepo:
        return StateRepo(self.conn)

    def after_commit(self, callback: Callable[[], None]) -> None:
        after_commit(self.conn, callback)

    def forget_business_data(self) -> None:
        reset_business_data(self.conn)


class SqlUnitOfWorkFactory:
    """What the domain is built with (app.py): ``factory()`` opens a :class:`SqlUnitOfWork`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @property
    def dialect(self) -> str:
        return self.store.dialect

    @property
    def inline_calls(self) -> bool:
        return self.store.inline_calls

    def __call__(self) -> AbstractContextManager[UnitOfWork]:
        return self._open()

    @contextmanager
    def _open(self) -> Iterator[UnitOfWork]:
        try:
            with self.store.transaction() as conn:
                yield SqlUnitOfWork(conn)
        except IntegrityError as exc:
            # The transaction has rolled back; the domain decides what a collision means.
            raise Conflict(str(exc.orig)) from exc

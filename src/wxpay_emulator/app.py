"""The ASGI application: wires store, domain, families and dispatcher, and the per-family error shapes.

Every family comes from the registry (registry.py): its router (catch-all last), its error shape, its
exception handlers, its renderers and the faults its routes declare. Nothing here names a family.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from wxpay_emulator.api.cloud import ensure_cloud_provider
from wxpay_emulator.api.control_token import RequireControlToken, control_token
from wxpay_emulator.api.emulator.errors import EMULATOR_STATUS
from wxpay_emulator.api.family import attach
from wxpay_emulator.api.faults import Faults, api_routes, operation_of, tag_of
from wxpay_emulator.api.journal_middleware import JournalMiddleware
from wxpay_emulator.api.limits import LimitBody
from wxpay_emulator.api.middleware import ContainUnexpected, RefuseNulInUrl
from wxpay_emulator.api.safejson import JSONResponse
from wxpay_emulator.api.shapes import Shapes
from wxpay_emulator.api.shared_state import SharedStateSnapshot
from wxpay_emulator.audit import routes as audit_routes
from wxpay_emulator.config import Settings
from wxpay_emulator.crypto.keys import KeySource, PooledKeys
from wxpay_emulator.dashboard import audit_page as dashboard_audit
from wxpay_emulator.dashboard import docs as dashboard_docs
from wxpay_emulator.dashboard import journal_pages as dashboard_journal
from wxpay_emulator.dashboard import merchant_pages, pages, system_pages
from wxpay_emulator.dashboard import views as dashboard_views
from wxpay_emulator.dashboard import web as dashboard_web
from wxpay_emulator.dashboard.shape import SHAPE as DASHBOARD_SHAPE
from wxpay_emulator.domain.errors import DomainError
from wxpay_emulator.domain.notifications import PaymentRenderer, RefundRenderer
from wxpay_emulator.domain.services import Domain
from wxpay_emulator.filemodes import prepare_data_dir
from wxpay_emulator.ids import Ids
from wxpay_emulator.journal.service import Journal
from wxpay_emulator.notify.dispatcher import Dispatcher
from wxpay_emulator.notify.doorbell import Doorbell
from wxpay_emulator.registry import CONTROL_VIEWS, FAMILIES
from wxpay_emulator.storage.db import Store, migrate
from wxpay_emulator.storage.shared_clock import SharedClock
from wxpay_emulator.storage.startup import startup_lock
from wxpay_emulator.storage.uow import SqlUnitOfWorkFactory

if TYPE_CHECKING:
    from wxpay_emulator.tls import StoreTrust

log = logging.getLogger("wxpay_emulator")

DEFAULT_MCHID = "1900000001"
DEFAULT_APPID = "wxd678efh567hg6787"


def open_store(settings: Settings) -> Store:
    prepare_data_dir(settings.data_dir, settings.resolved_database_url())  # 0700 / 0600 (filemodes.py)
    store = Store(settings.resolved_database_url())
    with startup_lock(store.engine):  # processes starting together migrate one at a time
        migrate(store.engine)
    return store


def build_domain(
    store: Store,
    settings: Settings,
    ids: Ids | None = None,
    on_notification: Callable[[], None] | None = None,
    key_source: KeySource | None = None,
) -> Domain:
    ids = ids or Ids()
    payments: dict[str, PaymentRenderer] = {}
    refunds: dict[str, RefundRenderer] = {}
    combine = None
    for spec in FAMILIES:
        payments.update(spec.payment_renderers(ids))
        refunds.update(spec.refund_renderers(ids))
        if spec.combine_renderer is not None:
            combine = spec.combine_renderer(ids)
    return Domain(
        SqlUnitOfWorkFactory(store),
        payments,
        combine,
        # Its offset read from the store: every process sees an advance at once (scale-out).
        clock=SharedClock(store),
        ids=ids,
        notify_time_scale=settings.notify_time_scale,
        on_notification=on_notification,
        refund_renderers=refunds,
        refund_delay_seconds=settings.refund_delay_seconds,
        key_source=key_source,
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    store = open_store(settings)
    doorbell = Doorbell()
    key_source = PooledKeys(settings.key_pool_dir) if settings.key_pool_dir is not None else None
    domain = build_domain(store, settings, on_notification=doorbell.ring, key_source=key_source)
    with startup_lock(store.engine):  # processes starting together seed one at a time
        ensure_cloud_provider(domain, settings.data_dir)  # WeChat Cloud's provider (domain/cloud_pay.py)
    dispatcher = Dispatcher(
        domain, settings.notify_timeout_seconds, settings.dispatcher_poll_seconds, doorbell=doorbell
    )
    journal = Journal(store, settings.journal_max_entries, settings.events_gap_grace_seconds)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await dispatcher.start()
        try:
            yield
        finally:
            # Closing the journal and disposing of the store wait (bounded) for a thread and for
            # connections still checked out: off the event loop, which other apps may share.
            try:
                await dispatcher.stop()
            finally:
                try:
                    await asyncio.to_thread(journal.close)
                finally:
                    await asyncio.to_thread(store.dispose)  # always: no connection may outlive the app

    app = FastAPI(
        title="wxpay-emulator",
        lifespan=lifespan,
        docs_url=None,  # /emulator/docs is dashboard/docs.py: server-rendered, no CDN
        redoc_url=None,
        openapi_url="/emulator/openapi.json",
        default_response_class=JSONResponse,
    )
    shapes = Shapes(shape for spec in FAMILIES for shape in spec.shapes)
    # The dashboard answers the framework's errors on its pages in HTML (dashboard/shape.py). Only the
    # exception handlers see it: ``shapes`` are WeChat's own paths, which the control token exempts.
    error_shapes = Shapes([*shapes, DASHBOARD_SHAPE])
    routers = [(spec, spec.router()) for spec in FAMILIES]
    for spec, router in routers:
        attach(app.router, router)
        for exc_type, handler in spec.handlers.items():
            app.add_exception_handler(exc_type, handler)  # type: ignore[arg-type]
    attach(app.router, pages.router)
    attach(app.router, audit_routes.router)  # a face, like the pages: POST /emulator/v1/audits
    # The dashboard (/, /dashboard/...), its assets and the API reference (/emulator/docs).
    attach(app.router, dashboard_views.router)
    attach(app.router, merchant_pages.router)  # /dashboard/merchants
    attach(app.router, system_pages.router)  # /dashboard/system: clock, faults, reset
    attach(app.router, dashboard_journal.router)  # /dashboard/requests: the request journal
    attach(app.router, dashboard_audit.router)  # /dashboard/audit: the notify-handler audit
    attach(app.router, dashboard_docs.router)
    attach(app.router, dashboard_web.assets)
    for route in api_routes(app.routes):  # OpenAPI tags follow the operation each route declares
        name = operation_of(route)
        if name is not None:
            route.tags = [tag_of(name)]
    app.state.settings = settings
    app.state.domain = domain
    app.state.store = store  # for serving (tls.StoreTrust reads the merchants' certificates), and tests
    app.state.dispatcher = dispatcher
    app.state.journal = journal
    app.state.events_url = "/emulator/v1/events"  # the dashboard's live updates (dashboard.js)
    app.state.shapes = shapes
    app.state.views = CONTROL_VIEWS
    # Operations derived from the routes; armed faults in the store, so every process sees them.
    app.state.faults = Faults.from_routes(
        ((router.routes, spec.fault_codes, spec.tampers) for spec, router in routers), store
    )

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> Response:
        shape = error_shapes.of(request.url.path)
        if shape is not None:
            return shape.domain_error(request, exc)
        body = {"code": exc.code.value, "message": exc.message}
        return JSONResponse(body, status_code=EMULATOR_STATUS[exc.code])

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        field = ".".join(str(p) for p in first["loc"] if p != "body")
        shape = error_shapes.of(request.url.path)
        if shape is not None:
            return shape.bad_request(request, f"{field}: {first['msg']}")
        return JSONResponse({"code": "PARAM_ERROR", "message": f"{field}: {first['msg']}"}, status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        shape = error_shapes.of(request.url.path)
        if shape is not None:
            return shape.http_error(request, exc.status_code, str(exc.detail))
        code = "NOT_FOUND" if exc.status_code == 404 else "INVALID_REQUEST"
        return JSONResponse({"code": code, "message": str(exc.detail)}, status_code=exc.status_code)

    # The last added is the outermost: ContainUnexpected wraps everything, the NUL check included, and
    # the journal records what ContainUnexpected answered (a refused control token included).
    app.add_middleware(SharedStateSnapshot, store=store)  # innermost: refusals cost no read
    app.add_middleware(LimitBody, shapes=shapes)  # body size limits while reading (api/limits.py)
    app.add_middleware(RefuseNulInUrl, shapes=shapes)
    app.state.control_token = control_token(settings)
    if app.state.control_token is not None:  # before any body is read (api/control_token.py)
        app.add_middleware(RequireControlToken, token=app.state.control_token, shapes=shapes)
    app.add_middleware(ContainUnexpected, shapes=shapes)
    if settings.journal:
        app.add_middleware(JournalMiddleware, shapes=shapes, journal=journal)
    return app


def create_app_from_env() -> FastAPI:
    """The application of one worker of ``serve --workers N``: its settings from WXPAY_EMULATOR_*."""
    import os

    from wxpay_emulator.serve_logs import configure_serve_logs, quiet_from_env

    configure_serve_logs(quiet_from_env(os.environ.get("WXPAY_EMULATOR_QUIET")))
    return create_app(Settings())


def store_trust(app: FastAPI) -> StoreTrust:
    """``--tls``: the client certificates ``app``'s store holds, trusted at each handshake."""
    from wxpay_emulator.storage.merchant_certs import merchant_certificates
    from wxpay_emulator.tls import StoreTrust

    return StoreTrust(partial(merchant_certificates, app.state.store))

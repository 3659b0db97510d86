"""The ASGI application: wires store, domain, families and dispatcher, and the per-family error shapes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from wxpay_emulator.api.cloud import ensure_cloud_provider
from wxpay_emulator.api.cloud import refund as cloud_refund_routes
from wxpay_emulator.api.cloud import routes as cloud_routes
from wxpay_emulator.api.cloud.shape import SHAPES as CLOUD_SHAPES
from wxpay_emulator.api.emulator import cloud as emulator_cloud
from wxpay_emulator.api.emulator import people as emulator_people
from wxpay_emulator.api.emulator import refunds as emulator_refunds
from wxpay_emulator.api.emulator import routes as emulator_routes
from wxpay_emulator.api.emulator.errors import EMULATOR_STATUS
from wxpay_emulator.api.middleware import ContainUnexpected, RefuseNulInUrl
from wxpay_emulator.api.miniprogram import routes as miniprogram_routes
from wxpay_emulator.api.miniprogram.shape import SHAPE as MINIPROGRAM_SHAPE
from wxpay_emulator.api.shapes import register, shape_of
from wxpay_emulator.api.v2 import refund as v2_refund_routes
from wxpay_emulator.api.v2 import routes as v2_routes
from wxpay_emulator.api.v2.errors import V2Error
from wxpay_emulator.api.v2.shape import SHAPE as V2_SHAPE
from wxpay_emulator.api.v3 import combine as v3_combine_routes
from wxpay_emulator.api.v3 import partner as v3_partner_routes
from wxpay_emulator.api.v3 import refund as v3_refund_routes
from wxpay_emulator.api.v3 import routes as v3_routes
from wxpay_emulator.api.v3.auth import signed_response
from wxpay_emulator.api.v3.errors import V3Error, body_of
from wxpay_emulator.api.v3.faults import Faults
from wxpay_emulator.api.v3.shape import SHAPE as V3_SHAPE
from wxpay_emulator.config import Settings
from wxpay_emulator.crypto.keys import KeySource
from wxpay_emulator.dashboard import pages
from wxpay_emulator.domain.errors import DomainError
from wxpay_emulator.domain.services import Domain
from wxpay_emulator.ids import Ids
from wxpay_emulator.notify.dispatcher import Dispatcher
from wxpay_emulator.notify.payloads import v3_combine_renderer, v3_payment_renderer
from wxpay_emulator.notify.payloads_cloud import cloud_refund_renderers, cloud_renderers
from wxpay_emulator.notify.payloads_refund import v3_refund_renderer
from wxpay_emulator.notify.payloads_v2 import v2_payment_renderer, v2_refund_renderer
from wxpay_emulator.storage.db import Store, migrate
from wxpay_emulator.storage.uow import SqlUnitOfWorkFactory

log = logging.getLogger("wxpay_emulator")

DEFAULT_MCHID = "1900000001"
DEFAULT_APPID = "wxd678efh567hg6787"

# Each family shapes the answers the framework makes on its paths (api/shapes.py).
for _shape in (V3_SHAPE, V2_SHAPE, MINIPROGRAM_SHAPE, *CLOUD_SHAPES):
    register(_shape)


def open_store(settings: Settings) -> Store:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(settings.resolved_database_url())
    migrate(store.engine)
    return store


def build_domain(
    store: Store, settings: Settings, ids: Ids | None = None, key_source: KeySource | None = None
) -> Domain:
    ids = ids or Ids()
    return Domain(
        SqlUnitOfWorkFactory(store),
        {"v3": v3_payment_renderer(ids), "v2": v2_payment_renderer(ids), **cloud_renderers(ids)},
        v3_combine_renderer(ids),
        ids=ids,
        notify_time_scale=settings.notify_time_scale,
        refund_renderers={
            "v3": v3_refund_renderer(ids),
            "v2": v2_refund_renderer(ids),
            **cloud_refund_renderers(ids),
        },
        refund_delay_seconds=settings.refund_delay_seconds,
        key_source=key_source,
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    store = open_store(settings)
    domain = build_domain(store, settings)
    ensure_cloud_provider(domain, settings.data_dir)  # WeChat Cloud's provider merchant (domain/cloud_pay.py)
    dispatcher = Dispatcher(domain, settings.notify_timeout_seconds, settings.dispatcher_poll_seconds)
    domain.notifications.on_enqueued = dispatcher.waker()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await dispatcher.start()
        try:
            yield
        finally:
            await dispatcher.stop()
            store.dispose()

    app = FastAPI(
        title="wxpay-emulator",
        lifespan=lifespan,
        docs_url="/emulator/docs",
        redoc_url=None,
        openapi_url="/emulator/openapi.json",
    )
    app.state.settings = settings
    app.state.domain = domain
    app.state.dispatcher = dispatcher
    app.state.faults = Faults()
    app.include_router(emulator_routes.router)
    app.include_router(emulator_people.router)
    app.include_router(miniprogram_routes.router)
    app.include_router(pages.router)
    app.include_router(v2_routes.router)
    app.include_router(v2_refund_routes.router)
    app.include_router(cloud_routes.router)
    app.include_router(cloud_refund_routes.router)
    app.include_router(emulator_cloud.router)
    app.include_router(emulator_refunds.router)
    app.include_router(v3_refund_routes.router)
    app.include_router(v3_partner_routes.router)
    app.include_router(v3_combine_routes.router)
    app.include_router(v3_routes.router)  # last: it ends with the catch-all for unknown /v3 paths

    @app.exception_handler(V3Error)
    async def v3_error(request: Request, exc: V3Error) -> Response:
        return signed_response(request, exc.status, body_of(exc))

    app.add_exception_handler(V2Error, v2_routes.v2_error)  # type: ignore[arg-type]

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> Response:
        shape = shape_of(request.url.path)
        if shape is not None:
            return shape.domain_error(request, exc)
        body = {"code": exc.code.value, "message": exc.message}
        return JSONResponse(body, status_code=EMULATOR_STATUS[exc.code])

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        field = ".".join(str(p) for p in first["loc"] if p != "body")
        shape = shape_of(request.url.path)
        if shape is not None:
            return shape.bad_request(request, f"{field}: {first['msg']}")
        return JSONResponse({"code": "PARAM_ERROR", "message": f"{field}: {first['msg']}"}, status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        shape = shape_of(request.url.path)
        if shape is not None:
            return shape.http_error(request, exc.status_code, str(exc.detail))
        code = "NOT_FOUND" if exc.status_code == 404 else "INVALID_REQUEST"
        return JSONResponse({"code": code, "message": str(exc.detail)}, status_code=exc.status_code)

    # The last added is the outermost: ContainUnexpected wraps everything, the NUL check included.
    app.add_middleware(RefuseNulInUrl)
    app.add_middleware(ContainUnexpected)
    return app

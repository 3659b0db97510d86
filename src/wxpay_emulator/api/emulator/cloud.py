"""Control plane for cloud callbacks: where a cloud env's container services and functions listen.

``POST /emulator/v1/cloud/services`` ``{env_id, service, url}`` and ``POST /emulator/v1/cloud/functions``
``{env_id, function_name, url}`` register (or move) the local URL that receives the payment callbacks of
cloud orders naming that env and service (seed 001's ``container``) or function (seed 001's
``function_name``, seed 003's ``functionName``). A container's URL is joined with the order's
``container.path``. The GETs list them.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Request
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from wxpay_emulator.api.calls import call, domain_of
from wxpay_emulator.api.family import new_router
from wxpay_emulator.domain.cloud import CloudEndpoint, EndpointKind
from wxpay_emulator.wire import reject_nul

router = new_router(prefix="/emulator/v1/cloud")


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError("url must start with http:// or https://")
    return value


Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^/\s]+$")]
Url = Annotated[str, Field(min_length=8, max_length=512), AfterValidator(_http_url)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    _no_nul = field_validator("*", mode="after")(reject_nul)


class ServiceBody(_Body):
    env_id: Name
    service: Name
    url: Url


class FunctionBody(_Body):
    env_id: Name
    function_name: Name
    url: Url


def _service_json(e: CloudEndpoint) -> dict[str, Any]:
    return {"env_id": e.env_id, "service": e.name, "url": e.url}


def _function_json(e: CloudEndpoint) -> dict[str, Any]:
    return {"env_id": e.env_id, "function_name": e.name, "url": e.url}


@router.post("/services", status_code=201)
async def register_service(body: ServiceBody, request: Request) -> dict[str, Any]:
    cloud = domain_of(request).cloud
    found = await call(request, cloud.register, EndpointKind.CONTAINER, body.env_id, body.service, body.url)
    return _service_json(found)


@router.get("/services")
async def list_services(request: Request) -> dict[str, Any]:
    found = await call(request, domain_of(request).cloud.list, EndpointKind.CONTAINER)
    return {"data": [_service_json(e) for e in found]}


@router.post("/functions", status_code=201)
async def register_function(body: FunctionBody, request: Request) -> dict[str, Any]:
    cloud = domain_of(request).cloud
    found = await call(
        request, cloud.register, EndpointKind.FUNCTION, body.env_id, body.function_name, body.url
    )
    return _function_json(found)


@router.get("/functions")
async def list_functions(request: Request) -> dict[str, Any]:
    found = await call(request, domain_of(request).cloud.list, EndpointKind.FUNCTION)
    return {"data": [_function_json(e) for e in found]}

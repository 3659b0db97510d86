"""``/emulator/docs``: the API reference, rendered on the server from the app's own OpenAPI document
(``/emulator/openapi.json``), grouped by tag. No JavaScript and no CDN, so it works offline.

Swagger UI self-hosted would need a package whose only job is shipping its assets; a page of paths,
methods, parameters and schemas is what a reader of a WeChat Pay emulator needs, and it stays in
the project's one template language.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import Request, Response

from wxpay_emulator.api.family import new_router
from wxpay_emulator.dashboard.web import render

router = new_router(include_in_schema=False)

METHOD_ORDER = ["get", "post", "put", "patch", "delete"]
# The tags (api/faults.py's tag_of: an operation's group), families first as a merchant meets them,
# with a title each; routes that declare no operation (the control plane, the checkout page) are
# grouped as "emulator". Tags not named here follow in name order, under their own name.
TITLES = {
    "pay": "APIv3 payments",
    "certificates": "APIv3 certificates",
    "partner": "APIv3 partner (service provider)",
    "combine": "APIv3 combine",
    "refund": "APIv3 refunds",
    "v2": "APIv2 (XML), refunds and the simulation system",
    "cloud": "Cloud hosting (/_/pay) and CloudPay (/_/cloudpay)",
    "mp": "Mini Program",
    "emulator": "The emulator's control plane and pages",
}
TAG_ORDER = list(TITLES)


@dataclass
class Operation:
    method: str
    path: str
    summary: str
    description: str
    parameters: list[dict[str, Any]]
    body: str | None
    anchor: str


@dataclass
class Group:
    tag: str
    title: str
    operations: list[Operation] = field(default_factory=list)


def _schema_name(schema: dict[str, Any]) -> str | None:
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return ref.rsplit("/", 1)[-1]
    return None


def _body(op: dict[str, Any]) -> str | None:
    content = op.get("requestBody", {}).get("content", {})
    for media, spec in content.items():
        schema = spec.get("schema", {})
        return f"{media}: {_schema_name(schema) or schema.get('type', 'object')}"
    return None


def groups(spec: dict[str, Any]) -> list[Group]:
    found: dict[str, Group] = {}
    for path, item in spec.get("paths", {}).items():
        for method in sorted(item, key=lambda m: METHOD_ORDER.index(m) if m in METHOD_ORDER else 99):
            op = item[method]
            if not isinstance(op, dict):
                continue
            default = "emulator" if path.startswith("/emulator/") else "other"
            for tag in op.get("tags") or [default]:
                group = found.setdefault(tag, Group(tag, TITLES.get(tag, tag)))
                group.operations.append(
                    Operation(
                        method=method.upper(),
                        path=path,
                        summary=op.get("summary", ""),
                        description=op.get("description", ""),
                        parameters=op.get("parameters", []),
                        body=_body(op),
                        anchor=op.get("operationId", f"{method}{path}"),
                    )
                )
    rank = {tag: i for i, tag in enumerate(TAG_ORDER)}
    return sorted(found.values(), key=lambda g: (rank.get(g.tag, len(rank)), g.tag))


@router.get("/emulator/docs")
async def docs(request: Request) -> Response:
    spec = request.app.openapi()
    schemas = spec.get("components", {}).get("schemas", {})
    return render(
        request,
        "docs.html",
        groups=groups(spec),
        schemas=schemas,
        title=spec.get("info", {}).get("title", ""),
        version=spec.get("info", {}).get("version", ""),
        openapi_url=request.app.openapi_url,
    )

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
from wxpay_emulator.registry import tag_titles

router = new_router(include_in_schema=False)

METHOD_ORDER = ["get", "post", "put", "patch", "delete"]
# A route that declares no operation carries no tag: under /emulator/ (the control plane, the checkout
# page) it is grouped as "emulator", the control plane family's tag.
CONTROL_TAG = "emulator"
# Each tag's title, and the order of the groups, are the family registry's (registry.tag_titles).


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
    known = tag_titles()
    for path, item in spec.get("paths", {}).items():
        for method in sorted(item, key=lambda m: METHOD_ORDER.index(m) if m in METHOD_ORDER else 99):
            op = item[method]
            if not isinstance(op, dict):
                continue
            default = CONTROL_TAG if path.startswith("/emulator/") else "other"
            for tag in op.get("tags") or [default]:
                group = found.setdefault(tag, Group(tag, known.get(tag, tag)))
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
    rank = {tag: i for i, tag in enumerate(known)}
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

"""``/dashboard/audit``: audit a merchant's notification handler from the browser (issue 13). The form
(URL, merchant, family, optionally a paid order and the APIv2 sign_type) runs the same engine as
``POST /emulator/v1/audits`` and ``wxpay-emulator audit notify`` (audit/notify.py), with the same
validation (audit/routes.py's AuditBody), and shows the report card: each check, the WeChat rule it
stands for, what was expected and what was observed.

The answer to the POST is the report itself, not a redirect: an audit changes nothing in the store (a
synthetic order is built in memory), so there is no action a reload could repeat but the probes.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from wxpay_emulator.api.calls import call, domain_of
from wxpay_emulator.api.family import new_router
from wxpay_emulator.audit.notify import FAMILIES, audit_notify
from wxpay_emulator.audit.routes import AuditBody
from wxpay_emulator.dashboard.web import form_of, render
from wxpay_emulator.domain.errors import DomainError

router = new_router(include_in_schema=False)


async def _page(
    request: Request, form: dict[str, str], report: Any = None, problem: str | None = None
) -> Response:
    merchants = await call(request, domain_of(request).merchants.list)
    return render(
        request,
        "audit.html",
        status=400 if problem else 200,
        merchants=merchants,
        families=FAMILIES,
        form=form,
        report=report,
        problem=problem,
    )


@router.get("/dashboard/audit")
async def audit_form(request: Request) -> Response:
    return await _page(request, {"family": "v3"})


@router.post("/dashboard/audit")
async def audit_run(request: Request) -> Response:
    form = await form_of(request)
    given = {k: v.strip() for k, v in form.items() if k in AuditBody.model_fields and v.strip()}
    try:
        body = AuditBody(**given)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return await _page(request, form, problem=f"{where}: {first['msg']}" if where else first["msg"])
    try:
        report = await run_in_threadpool(
            audit_notify,
            domain_of(request),
            body.url,
            family=body.family,
            mchid=body.mchid,
            out_trade_no=body.out_trade_no,
            sign_type=body.sign_type,
        )
    except DomainError as exc:
        return await _page(request, form, problem=f"{exc.code.value}: {exc.message}")
    return await _page(request, form, report=report)

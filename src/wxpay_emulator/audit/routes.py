"""``POST /emulator/v1/audits``: audit a merchant's notification handler (audit/notify.py).

Included by create_app next to the dashboard pages: the audit is a face, not a family.

Body ``{"url", "mchid"?, "family": "v3"|"v2"|"cloud", "out_trade_no"?, "sign_type"?}``; the answer is
the report card ``{"passed", "checks": [{"name", "passed", "expected", "observed", "rule"}], ...}``.
A failed check is a 200 answer with ``passed: false``; only a bad request is an error
(``{"code", "message"}``, errors.py).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.concurrency import run_in_threadpool

from wxpay_emulator.api.calls import domain_of
from wxpay_emulator.api.family import new_router
from wxpay_emulator.audit.notify import audit_notify
from wxpay_emulator.wire import reject_nul

router = new_router(prefix="/emulator/v1")


class AuditBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    _no_nul = field_validator("*", mode="after")(reject_nul)

    url: str = Field(min_length=8, max_length=512, pattern=r"^https?://")
    kind: Literal["notify"] = "notify"
    family: Literal["v3", "v2", "cloud"] = "v3"
    mchid: str | None = Field(default=None, pattern=r"^\d{6,32}$")
    out_trade_no: str | None = Field(default=None, min_length=1, max_length=32)
    sign_type: Literal["MD5", "HMAC-SHA256"] | None = None


@router.post("/audits")
async def audit(body: AuditBody, request: Request) -> dict[str, Any]:
    report = await run_in_threadpool(
        audit_notify,
        domain_of(request),
        body.url,
        family=body.family,
        mchid=body.mchid,
        out_trade_no=body.out_trade_no,
        sign_type=body.sign_type,
    )
    return report.to_json()

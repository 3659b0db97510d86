"""The dashboard's merchant pages: the list, each merchant's material and SDK configuration, and its
files as downloads (loopback clients only)."""

from __future__ import annotations

import json

from fastapi import HTTPException, Request, Response

from wxpay_emulator.api.calls import call, domain_of
from wxpay_emulator.api.emulator import routes as control
from wxpay_emulator.api.family import new_router
from wxpay_emulator.dashboard import sdk_config
from wxpay_emulator.dashboard.web import base_url, is_loopback, render
from wxpay_emulator.domain.models import (
    Merchant,
)
from wxpay_emulator.material import FILES, merchant_json

router = new_router(include_in_schema=False)


@router.get("/dashboard/merchants")
async def merchants(request: Request) -> Response:
    found = await call(request, domain_of(request).merchants.list)
    return render(request, "merchants.html", merchants=found)


async def _merchant_or_404(request: Request, mchid: str) -> Merchant:
    found = await call(request, domain_of(request).merchants.find, mchid)
    if found is None:
        raise HTTPException(404, f"no merchant {mchid}")
    return found


@router.get("/dashboard/merchants/{mchid}")
async def merchant_page(request: Request, mchid: str) -> Response:
    m = await _merchant_or_404(request, mchid)
    # Absolute: a snippet pasted into code run from another directory than serve's must still find it.
    folder = (control._data_dir(request) / "merchants" / m.mchid).resolve()
    return render(
        request,
        "merchant.html",
        m=m,
        info=merchant_json(m, folder),
        folder=folder,
        files=[*FILES, "merchant.json"],
        snippets=sdk_config.snippets(m, folder, base_url(request)),
        loopback=is_loopback(request),
    )


@router.get("/dashboard/merchants/{mchid}/files/{name}")
async def merchant_file(request: Request, mchid: str, name: str) -> Response:
    """A merchant's material as a download: from the store, so it matches what the emulator signs with."""
    if not is_loopback(request):
        raise HTTPException(403, "merchant material is served to loopback clients only")
    m = await _merchant_or_404(request, mchid)
    folder = control._data_dir(request) / "merchants" / m.mchid
    if name == "merchant.json":
        content = (json.dumps(merchant_json(m, folder), ensure_ascii=False, indent=2) + "\n").encode()
        media = "application/json"
    elif name in FILES:
        content, media = getattr(m, FILES[name]), "application/x-pem-file"
    else:
        raise HTTPException(404, f"no file {name}")
    return Response(
        content,
        media_type=media,
        headers={
            "Content-Disposition": f'attachment; filename="{m.mchid}_{name}"',
            "Cache-Control": "no-store",
        },
    )

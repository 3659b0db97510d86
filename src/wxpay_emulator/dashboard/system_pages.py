"""The dashboard's system page: the business clock, armed faults and reset, each action a form that
goes through the control plane's own handler and answers 303 back to the page."""

from __future__ import annotations

from fastapi import Request, Response
from pydantic import ValidationError

from wxpay_emulator.api.calls import domain_of
from wxpay_emulator.api.emulator import routes as control
from wxpay_emulator.api.family import new_router
from wxpay_emulator.api.faults import Faults
from wxpay_emulator.dashboard.forms import number, whole, why
from wxpay_emulator.dashboard.web import back, form_of, render
from wxpay_emulator.domain.errors import DomainError

router = new_router(include_in_schema=False)


def _faults(request: Request) -> Faults:
    faults: Faults = request.app.state.faults
    return faults


@router.get("/dashboard/system")
async def system(request: Request) -> Response:
    domain = domain_of(request)
    return render(
        request,
        "system.html",
        now=domain.clock.now(),
        offset=domain.clock.offset_seconds,
        pending=_faults(request).pending(),
        operations=sorted(_faults(request).codes),
        codes=sorted(set().union(*_faults(request).codes.values())),
    )


@router.post("/dashboard/clock")
async def clock_advance(request: Request) -> Response:
    form = await form_of(request)
    try:
        seconds = number(form, "seconds", "a number of seconds") + 60 * number(
            form, "minutes", "a number of minutes"
        )
        answer = await control.advance_clock(control.ClockBody(advance_seconds=seconds), request)
    except (DomainError, ValidationError, ValueError) as exc:
        return back("/dashboard/system", error=why(exc))
    return back("/dashboard/system", ok=f"clock advanced by {seconds:g} s; now {answer['now']}")


@router.post("/dashboard/faults")
async def fault_arm(request: Request) -> Response:
    form = await form_of(request)
    try:
        body = control.FaultBody(
            operation=form.get("operation", ""),
            code=form.get("code", ""),
            count=whole(form, "count", 1, "a whole number of calls"),
        )
        await control.arm_fault(body, request)
    except (DomainError, ValidationError, ValueError) as exc:
        return back("/dashboard/system", error=why(exc))
    return back("/dashboard/system", ok=f"armed {body.count} × {body.code} on {body.operation}")


@router.post("/dashboard/faults/clear")
async def fault_clear(request: Request) -> Response:
    await control.clear_faults(request)
    return back("/dashboard/system", ok="every fault disarmed")


@router.post("/dashboard/reset")
async def reset(request: Request) -> Response:
    form = await form_of(request)
    if form.get("confirm") != "reset":
        return back("/dashboard/system", error="type reset to confirm")
    await control.reset(request)
    return back("/", ok="orders, notifications and refunds forgotten; the clock is back to now")

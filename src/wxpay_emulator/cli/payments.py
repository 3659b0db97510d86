"""``wxpay-emulator pay``, ``orders`` and ``refund``: the simulated payer and the orders, through the
control plane of a running emulator."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from wxpay_emulator.cli.base import Token, Url, app, call, console, print_json, print_table


@app.command()
def pay(
    out_trade_no: str,
    mchid: Annotated[str | None, typer.Option(help="default: the first merchant")] = None,
    result: Annotated[
        str, typer.Option(help="SUCCESS, PAYERROR, USERPAYING, ACCEPT or NOTENOUGH")
    ] = "SUCCESS",
    openid: Annotated[str | None, typer.Option()] = None,
    combine: Annotated[
        bool, typer.Option("--combine", help="OUT_TRADE_NO is a combine_out_trade_no")
    ] = False,
    url: Url = None,
    token: Token = None,
) -> None:
    """Play the WeChat user: pay (or fail to pay) an order, or a combine order, of a running emulator."""
    if mchid is None:
        mchid = call("GET", url, "/emulator/v1/merchants", token)["data"][0]["mchid"]
    keys = ("combine_mchid", "combine_out_trade_no") if combine else ("mchid", "out_trade_no")
    body = {keys[0]: mchid, keys[1]: out_trade_no, "result": result.upper(), "openid": openid}
    data = call(
        "POST", url, "/emulator/v1/payments", token, json={k: v for k, v in body.items() if v is not None}
    )
    console.print(json.dumps(data, ensure_ascii=False, indent=2), markup=False, highlight=False)


@app.command()
def orders(
    mchid: Annotated[str | None, typer.Option()] = None,
    as_json: Annotated[bool, typer.Option("--json", help="the control plane's JSON")] = False,
    url: Url = None,
    token: Token = None,
) -> None:
    """The orders of a running emulator, newest first."""
    found = call("GET", url, "/emulator/v1/orders", token, params={"mchid": mchid} if mchid else None)
    if as_json:
        print_json(found)
        return
    data = found["data"]
    table = Table(
        "mchid", "out_trade_no", "type", "total", "trade_state", "transaction_id", "refunds", "created"
    )
    for o in data:
        t = o["transaction"]
        table.add_row(
            t.get("mchid") or t.get("sub_mchid", ""),
            t["out_trade_no"],
            t.get("trade_type", ""),
            str(t["amount"]["total"]),
            t["trade_state"],
            t.get("transaction_id", ""),
            _refunds_cell(o.get("refunds", [])),
            o["created_at"],
        )
    print_table(table)


def _refunds_cell(refunds: list[dict[str, Any]]) -> str:
    """One line per refund: out_refund_no, amount, status."""
    return "\n".join(f"{r['out_refund_no']} {r['amount']['refund']} {r['status']}" for r in refunds)


@app.command()
def refund(
    out_trade_no: str,
    amount: Annotated[int, typer.Option("--amount", help="fen to refund", min=1)],
    mchid: Annotated[str | None, typer.Option(help="default: the first merchant")] = None,
    out_refund_no: Annotated[str | None, typer.Option("--out-refund-no", help="default: a new one")] = None,
    reason: Annotated[str | None, typer.Option()] = None,
    notify_url: Annotated[
        str | None, typer.Option("--notify-url", help="where the refund's notification goes")
    ] = None,
    url: Url = None,
    token: Token = None,
) -> None:
    """Refund (part of) a paid order of a running emulator, as its merchant would."""
    if mchid is None:
        mchid = call("GET", url, "/emulator/v1/merchants", token)["data"][0]["mchid"]
    body = {
        "mchid": mchid,
        "out_trade_no": out_trade_no,
        "amount": amount,
        "out_refund_no": out_refund_no,
        "reason": reason,
        "notify_url": notify_url,
    }
    data = call(
        "POST", url, "/emulator/v1/refunds", token, json={k: v for k, v in body.items() if v is not None}
    )
    console.print(json.dumps(data, ensure_ascii=False, indent=2), markup=False, highlight=False)

"""``wxpay-emulator``: serve, merchant, pay, orders. Every flag also reads an environment variable."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from wxpay_emulator.audit.cli import audit_app
from wxpay_emulator.config import Settings
from wxpay_emulator.domain.models import KeyMode, Merchant

app = typer.Typer(help="A local, stateful, signature-exact WeChat Pay emulator.", no_args_is_help=True)
merchant_app = typer.Typer(help="Merchants and their keys.", no_args_is_help=True)
app.add_typer(merchant_app, name="merchant")
app.add_typer(audit_app, name="audit")
console = Console(soft_wrap=True)

DataDir = Annotated[
    Path | None, typer.Option("--data-dir", envvar="WXPAY_EMULATOR_DATA_DIR", help="default .wxpay-emulator")
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url", envvar="WXPAY_EMULATOR_DATABASE_URL", help="default: SQLite in the data dir"
    ),
]
Url = Annotated[str, typer.Option("--url", envvar="WXPAY_EMULATOR_URL", help="a running emulator")]
Token = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="WXPAY_EMULATOR_CONTROL_TOKEN",
        help="the control token of an emulator bound to a non-loopback address",
    ),
]
DEFAULT_URL = "http://127.0.0.1:8600"


def _settings(**given: Any) -> Settings:
    return Settings(**{k: v for k, v in given.items() if v is not None})


def _ensure_default_merchant(settings: Settings) -> list[Merchant]:
    from wxpay_emulator.app import DEFAULT_APPID, DEFAULT_MCHID, build_domain, open_store
    from wxpay_emulator.material import write_material
    from wxpay_emulator.storage.startup import startup_lock

    store = open_store(settings)
    try:
        domain = build_domain(store, settings)
        with startup_lock(store.engine):  # processes starting together create it once
            merchants = domain.merchants.list()
            if not merchants:
                merchants = [domain.merchants.create(DEFAULT_MCHID, DEFAULT_APPID, KeyMode.PUBKEY)]
            for m in merchants:
                write_material(settings.data_dir, m)
        return merchants
    finally:
        store.dispose()


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(envvar="WXPAY_EMULATOR_HOST", help="default 127.0.0.1")] = None,
    port: Annotated[int | None, typer.Option(envvar="WXPAY_EMULATOR_PORT", help="default 8600")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    notify_time_scale: Annotated[
        float | None, typer.Option(envvar="WXPAY_EMULATOR_NOTIFY_TIME_SCALE", help="scales retry delays")
    ] = None,
    tls: Annotated[
        bool | None,
        typer.Option(
            "--tls/--no-tls",
            envvar="WXPAY_EMULATOR_TLS",
            help="HTTPS; /secapi/ then requires the merchant's API certificate",
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            max=64,
            envvar="WXPAY_EMULATOR_WORKERS",
            help="processes serving one emulator (docs/scale-out.md)",
        ),
    ] = 1,
) -> None:
    """Run the emulator. On first start it creates a default merchant and prints its config."""
    from wxpay_emulator import serving
    from wxpay_emulator.api.control_token import control_token
    from wxpay_emulator.app import create_app, store_trust
    from wxpay_emulator.material import wechatpayv3_snippet

    settings = _settings(
        host=host,
        port=port,
        data_dir=data_dir,
        database_url=database_url,
        notify_time_scale=notify_time_scale,
        tls=tls,
    )
    merchants = _ensure_default_merchant(settings)
    base_url = f"{'https' if settings.tls else 'http'}://{settings.host}:{settings.port}"
    first = merchants[0]
    folder = (settings.data_dir / "merchants" / first.mchid).resolve()
    console.print(f"[bold]wxpay-emulator[/bold] on {base_url}  (store: {settings.resolved_database_url()})")
    console.print(f"merchant {first.mchid} ({first.key_mode.value} mode): material in {folder}")
    console.print("Paste into your code to use wechatpayv3 against the emulator:\n")
    console.print(wechatpayv3_snippet(first, folder, base_url), markup=False, highlight=False)
    if len(merchants) > 1:
        console.print(f"{len(merchants) - 1} more merchant(s): wxpay-emulator merchant list")
    if workers > 1:
        # Each worker builds its own app (and dispatcher) from the environment: one emulator over one
        # store, every delivery claimed by exactly one of them (docs/scale-out.md). The control token
        # is made once, here, so that every worker requires the same one.
        token = control_token(settings)
        if token is not None and not settings.control_token:
            settings = settings.model_copy(update={"control_token": token})
            given = "generated for this run"
        else:
            given = "WXPAY_EMULATOR_CONTROL_TOKEN"
        for name, value in settings.model_dump(exclude_none=True).items():
            os.environ[f"WXPAY_EMULATOR_{name.upper()}"] = str(value)
    else:
        app = create_app(settings)
        token = app.state.control_token
        given = "WXPAY_EMULATOR_CONTROL_TOKEN" if settings.control_token else "generated for this run"
    if token is not None:
        console.print(
            f"control token ({given}): {token}\n"
            "  the control plane and pages require it: Authorization: Bearer <token>, "
            f"or open {base_url}/?token=<token> once in a browser",
            markup=False,
            highlight=False,
        )
    tls_options = None
    if settings.tls:
        from wxpay_emulator.tls import uvicorn_options

        tls_options = uvicorn_options(settings.data_dir)
        server_pem = (settings.data_dir / "tls" / "server.pem").resolve()
        console.print(f"TLS: trust {server_pem}; /secapi/ requires the merchant's apiclient_cert.pem")
    if workers > 1:
        console.print(f"{workers} worker processes")
        trust_of = "wxpay_emulator.app:store_trust" if settings.tls else None
        serving.run_workers(
            "wxpay_emulator.app:create_app_from_env", settings, workers, tls_options, trust_of
        )
        return
    serving.run(app, settings, tls_options, store_trust(app) if settings.tls else None)


@merchant_app.command("create")
def merchant_create(
    mchid: Annotated[str | None, typer.Option(help="default: a new 10-digit number")] = None,
    appid: Annotated[str | None, typer.Option(help="default: a new wx... appid")] = None,
    key_mode: Annotated[KeyMode, typer.Option("--key-mode", help="cert or pubkey")] = KeyMode.PUBKEY,
    sp: Annotated[
        str | None, typer.Option("--sp", help="make a sub-merchant of this service provider / platform")
    ] = None,
    appids: Annotated[
        list[str] | None, typer.Option("--bind-appid", help="another appid bound to it")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print only merchant.json")] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Add a merchant with its own keys and write its material to the data dir."""
    from wxpay_emulator.app import build_domain, open_store
    from wxpay_emulator.domain.errors import DomainError
    from wxpay_emulator.material import merchant_json, write_material

    settings = _settings(data_dir=data_dir, database_url=database_url)
    store = open_store(settings)
    try:
        try:
            m = build_domain(store, settings).merchants.create(
                mchid, appid, key_mode, tuple(appids or ()), sp
            )
        except DomainError as exc:
            console.print(f"[red]{exc.message}[/red]")
            raise typer.Exit(1) from exc
        folder = write_material(settings.data_dir, m)
    finally:
        store.dispose()
    text = json.dumps(merchant_json(m, folder), ensure_ascii=False, indent=2)
    if as_json:
        typer.echo(text)
    else:
        console.print(f"merchant {m.mchid} created; material in {folder}")
        console.print(text, markup=False, highlight=False)


@merchant_app.command("list")
def merchant_list(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """List merchants in the store."""
    from wxpay_emulator.app import build_domain, open_store

    settings = _settings(data_dir=data_dir, database_url=database_url)
    store = open_store(settings)
    try:
        merchants = build_domain(store, settings).merchants.list()
    finally:
        store.dispose()
    table = Table("mchid", "appid", "key_mode", "sp_mchid", "serial_no", "pub_key_id")
    for m in merchants:
        table.add_row(m.mchid, m.appid, m.key_mode.value, m.sp_mchid or "", m.serial_no, m.pub_key_id)
    console.print(table)


def _call(method: str, url: str, path: str, token: str | None = None, **kwargs: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = httpx.request(
            method, url.rstrip("/") + path, timeout=10, trust_env=False, headers=headers, **kwargs
        )
    except httpx.HTTPError as exc:
        console.print(f"[red]cannot reach the emulator at {url}: {exc}[/red]")
        raise typer.Exit(2) from exc
    data = response.json()
    if response.status_code >= 400:
        console.print(f"[red]{data.get('code')}: {data.get('message')}[/red]")
        raise typer.Exit(1)
    return data


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
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """Play the WeChat user: pay (or fail to pay) an order, or a combine order, of a running emulator."""
    if mchid is None:
        mchid = _call("GET", url, "/emulator/v1/merchants", token)["data"][0]["mchid"]
    keys = ("combine_mchid", "combine_out_trade_no") if combine else ("mchid", "out_trade_no")
    body = {keys[0]: mchid, keys[1]: out_trade_no, "result": result.upper(), "openid": openid}
    data = _call(
        "POST", url, "/emulator/v1/payments", token, json={k: v for k, v in body.items() if v is not None}
    )
    console.print(json.dumps(data, ensure_ascii=False, indent=2), markup=False, highlight=False)


@app.command()
def orders(
    mchid: Annotated[str | None, typer.Option()] = None,
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """The orders of a running emulator, newest first."""
    data = _call("GET", url, "/emulator/v1/orders", token, params={"mchid": mchid} if mchid else None)["data"]
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
    # Piped (not a terminal), rich would squeeze the table into 80 columns and cut the identifiers.
    (console if console.is_terminal else Console(width=240)).print(table)


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
    url: Url = DEFAULT_URL,
    token: Token = None,
) -> None:
    """Refund (part of) a paid order of a running emulator, as its merchant would."""
    if mchid is None:
        mchid = _call("GET", url, "/emulator/v1/merchants", token)["data"][0]["mchid"]
    body = {
        "mchid": mchid,
        "out_trade_no": out_trade_no,
        "amount": amount,
        "out_refund_no": out_refund_no,
        "reason": reason,
    }
    data = _call(
        "POST", url, "/emulator/v1/refunds", token, json={k: v for k, v in body.items() if v is not None}
    )
    console.print(json.dumps(data, ensure_ascii=False, indent=2), markup=False, highlight=False)


def main() -> None:
    app()

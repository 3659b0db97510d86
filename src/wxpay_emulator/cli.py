"""``wxpay-emulator``: serve, merchant, pay, orders, refund; the control plane and the journal are in
cli_control.py. Every flag also reads an environment variable."""

from __future__ import annotations

import json
import os
import signal
import socket
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from wxpay_emulator import server_file
from wxpay_emulator.audit.cli import audit_app
from wxpay_emulator.config import Settings
from wxpay_emulator.domain.models import KeyMode, Merchant
from wxpay_emulator.serve_logs import configure_serve_logs

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
Url = Annotated[
    str | None,
    typer.Option(
        "--url",
        envvar="WXPAY_EMULATOR_URL",
        help="a running emulator (default: the one serving the data dir, from its server.json)",
    ),
]
Token = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="WXPAY_EMULATOR_CONTROL_TOKEN",
        help="the control token of an emulator bound to a non-loopback address "
        "(default: the one in the data dir's server.json)",
    ),
]
DEFAULT_URL = server_file.DEFAULT_URL


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as package_version

    try:
        return package_version("wxpay-emulator")
    except PackageNotFoundError:
        return "0+unknown"


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"wxpay-emulator {version()}")
        raise typer.Exit()


@app.callback()
def _main(
    _version: Annotated[
        bool | None,
        typer.Option("--version", callback=_show_version, is_eager=True, help="print the version and exit"),
    ] = None,
) -> None:
    """A local, stateful, signature-exact WeChat Pay emulator."""


def resolve_url(url: str | None, token: str | None = None) -> tuple[str, Any, dict[str, str]]:
    """(base URL, httpx ``verify``, headers) of the emulator a command talks to: ``--url`` /
    WXPAY_EMULATOR_URL, else the running ``serve`` of the data dir (its server.json), else
    http://127.0.0.1:8600 (server_file.resolve)."""
    return server_file.resolve(_settings().data_dir, url, token)


def print_table(table: Table) -> None:
    """Identifiers are never cut: columns fold instead of truncating, and a pipe gets a wide console."""
    for column in table.columns:
        column.overflow = "fold"
        column.no_wrap = True
    (console if console.is_terminal else Console(width=400, soft_wrap=True)).print(table)


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))


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
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet", "-q", envvar="WXPAY_EMULATOR_QUIET", help="no line per request and per delivery"
        ),
    ] = False,
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
    from wxpay_emulator import server_file, serving
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
    # Bind first: a port in use is reported before anything else is printed or written.
    sock = _bind(settings.host, settings.port)
    bound_port = int(sock.getsockname()[1])
    merchants = _ensure_default_merchant(settings)
    scheme = "https" if settings.tls else "http"
    shown_host = f"[{settings.host}]" if ":" in settings.host else settings.host
    base_url = f"{scheme}://{shown_host}:{bound_port}"
    first = merchants[0]
    folder = (settings.data_dir / "merchants" / first.mchid).resolve()
    console.print(f"[bold]wxpay-emulator {version()}[/bold] on [bold]{base_url}[/bold]", highlight=False)
    console.print(
        f"  port {bound_port}: change it with --port or WXPAY_EMULATOR_PORT; dashboard: {base_url}/",
        highlight=False,
    )
    console.print(f"  store: {settings.resolved_database_url()}", highlight=False)
    console.print(f"merchant {first.mchid} ({first.key_mode.value} mode): material in {folder}")
    console.print("Paste into your code to use wechatpayv3 against the emulator:\n")
    console.print(wechatpayv3_snippet(first, folder, base_url), markup=False, highlight=False)
    if len(merchants) > 1:
        console.print(f"{len(merchants) - 1} more merchant(s): wxpay-emulator merchant list")
    if quiet:
        console.print("--quiet: requests and deliveries are not logged (`wxpay-emulator tail` shows them)")
    else:
        console.print("One line per request and per delivery follows (--quiet silences them; ", end="")
        console.print("`wxpay-emulator tail` shows the same from another terminal).")
    configure_serve_logs(quiet)
    settings = settings.model_copy(update={"port": bound_port})
    app = None
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
        os.environ["WXPAY_EMULATOR_QUIET"] = "1" if quiet else "0"  # each worker's log lines (app.py)
    else:
        app = create_app(settings)
        token = app.state.control_token
        given = "WXPAY_EMULATOR_CONTROL_TOKEN" if settings.control_token else "generated for this run"
    if token is not None:
        console.print(
            f"control token ({given}): {token}\n"
            "  the control plane and pages require it: Authorization: Bearer <token>, "
            f"or open {base_url}/?token=<token> once in a browser; "
            "local CLI commands read it from the data dir's server.json",
            markup=False,
            highlight=False,
        )
    tls_options = None
    ca: Path | None = None
    if settings.tls:
        from wxpay_emulator.tls import uvicorn_options

        tls_options = uvicorn_options(settings.data_dir)
        ca = (settings.data_dir / "tls" / "server.pem").resolve()
        console.print(f"TLS: trust {ca}; /secapi/ requires the merchant's apiclient_cert.pem")
    info = {
        "url": base_url,
        "pid": os.getpid(),
        "host": settings.host,
        "port": bound_port,
        "tls": settings.tls,
        "ca": str(ca) if ca else None,
        "version": version(),
        "token": token,
    }
    server_file.write(settings.data_dir, info)
    # uvicorn re-raises the SIGTERM it stopped for once it has shut down, with the handler it found
    # installed: make that an exit that runs the finally below (which removes server.json).
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        if app is None:
            console.print(f"{workers} worker processes")
            trust_of = "wxpay_emulator.app:store_trust" if settings.tls else None
            serving.run_workers(
                "wxpay_emulator.app:create_app_from_env", settings, workers, tls_options, trust_of, sock=sock
            )
        else:
            served = app

            def started(server: Any) -> None:
                served.state.stopping = lambda: server.should_exit  # ends the event streams (journal.py)

            trust = store_trust(app) if settings.tls else None
            serving.run(app, settings, tls_options, trust, sockets=[sock], on_server=started)
    finally:
        server_file.remove(settings.data_dir, os.getpid())
        sock.close()


def _exit_on_signal(_signum: int, _frame: Any) -> None:
    raise SystemExit(0)


def _bind(host: str, port: int) -> socket.socket:
    """The listening socket, or a clear message and exit 1 when the address is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, backlog=2048)
    except OSError as exc:
        console.print(
            f"[red]cannot listen on {host}:{port}: {exc.strerror or exc}[/red]\n"
            f"Another process (another emulator?) uses the port: stop it, or choose another port with "
            f"--port or WXPAY_EMULATOR_PORT.",
            highlight=False,
        )
        raise typer.Exit(1) from exc


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
def merchant_list(
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON document")] = False,
) -> None:
    """List merchants in the store."""
    from wxpay_emulator.app import build_domain, open_store

    settings = _settings(data_dir=data_dir, database_url=database_url)
    store = open_store(settings)
    try:
        merchants = build_domain(store, settings).merchants.list()
    finally:
        store.dispose()
    if as_json:
        from wxpay_emulator.material import merchant_json

        base = settings.data_dir / "merchants"
        print_json({"data": [merchant_json(m, base / m.mchid) for m in merchants]})
        return
    table = Table("mchid", "appid", "key_mode", "sp_mchid", "serial_no", "pub_key_id")
    for m in merchants:
        table.add_row(m.mchid, m.appid, m.key_mode.value, m.sp_mchid or "", m.serial_no, m.pub_key_id)
    print_table(table)


def _call(method: str, url: str | None, path: str, token: str | None = None, **kwargs: Any) -> Any:
    base, verify, headers = resolve_url(url, token)
    try:
        response = httpx.request(
            method, base + path, timeout=10, trust_env=False, verify=verify, headers=headers, **kwargs
        )
    except httpx.HTTPError as exc:
        console.print(f"[red]cannot reach the emulator at {base}: {exc}[/red]")
        console.print("start one with `wxpay-emulator serve`, or give --url / WXPAY_EMULATOR_URL")
        raise typer.Exit(2) from exc
    try:
        data = response.json()
    except ValueError as exc:
        console.print(f"[red]{base} answered {response.status_code} without JSON: is it the emulator?[/red]")
        raise typer.Exit(2) from exc
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
    url: Url = None,
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
    as_json: Annotated[bool, typer.Option("--json", help="the control plane's JSON")] = False,
    url: Url = None,
    token: Token = None,
) -> None:
    """The orders of a running emulator, newest first."""
    found = _call("GET", url, "/emulator/v1/orders", token, params={"mchid": mchid} if mchid else None)
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
        mchid = _call("GET", url, "/emulator/v1/merchants", token)["data"][0]["mchid"]
    body = {
        "mchid": mchid,
        "out_trade_no": out_trade_no,
        "amount": amount,
        "out_refund_no": out_refund_no,
        "reason": reason,
        "notify_url": notify_url,
    }
    data = _call(
        "POST", url, "/emulator/v1/refunds", token, json={k: v for k, v in body.items() if v is not None}
    )
    console.print(json.dumps(data, ensure_ascii=False, indent=2), markup=False, highlight=False)


from wxpay_emulator import cli_control  # noqa: E402, F401  (registers its commands on ``app``)


def main() -> None:
    app()

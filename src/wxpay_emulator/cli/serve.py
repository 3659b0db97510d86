"""``wxpay-emulator serve``: the default merchant on first start, the banner a merchant pastes into their
SDK, one process or N workers on one listening socket."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path
from typing import Annotated, Any

import typer

from wxpay_emulator import server_file
from wxpay_emulator.cli.base import DatabaseUrl, DataDir, app, console, settings_from, version
from wxpay_emulator.config import Settings
from wxpay_emulator.domain.models import KeyMode, Merchant
from wxpay_emulator.serve_logs import configure_serve_logs


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
    from wxpay_emulator import serving
    from wxpay_emulator.api.control_token import control_token
    from wxpay_emulator.app import create_app, store_trust
    from wxpay_emulator.material import wechatpayv3_snippet

    settings = settings_from(
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

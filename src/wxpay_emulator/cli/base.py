"""What every command shares: the root ``app``, the console, the common options, and how a command
reaches a running emulator (``resolve_url``, ``call``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from wxpay_emulator import server_file
from wxpay_emulator.config import Settings

app = typer.Typer(help="A local, stateful, signature-exact WeChat Pay emulator.", no_args_is_help=True)
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
Json = Annotated[bool, typer.Option("--json", help="the control plane's JSON instead of a table")]
Mchid = Annotated[str | None, typer.Option("--mchid", help="only this merchant's")]


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
    return server_file.resolve(settings_from().data_dir, url, token)


def print_table(table: Table) -> None:
    """Identifiers are never cut: columns fold instead of truncating, and a pipe gets a wide console."""
    for column in table.columns:
        column.overflow = "fold"
        column.no_wrap = True
    (console if console.is_terminal else Console(width=400, soft_wrap=True)).print(table)


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))


def settings_from(**given: Any) -> Settings:
    return Settings(**{k: v for k, v in given.items() if v is not None})


def call(method: str, url: str | None, path: str, token: str | None = None, **kwargs: Any) -> Any:
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

"""``wxpay-emulator merchant create|list``: merchants and their key material.

They work on the data dir's store directly (the server need not run), except when nothing names a store
(no ``--data-dir`` / ``--database-url`` nor their environment variables) and the default data dir,
``./.wxpay-emulator``, holds none: run from another directory than ``serve``'s, they would otherwise make
a second, empty store there while ``pay`` and ``orders`` reach the running emulator. Then they go to the
running emulator (``--url``, WXPAY_EMULATOR_URL, else the default URL) through its control plane
(``POST/GET /emulator/v1/merchants``) and say so; with none reachable, ``create`` makes the new store
and says where, and ``list`` refuses (docs/control-plane.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from wxpay_emulator.cli.base import (
    DatabaseUrl,
    DataDir,
    Token,
    Url,
    app,
    call,
    console,
    print_json,
    print_table,
    resolve_url,
    settings_from,
)
from wxpay_emulator.domain.models import KeyMode

merchant_app = typer.Typer(help="Merchants and their keys.", no_args_is_help=True)
app.add_typer(merchant_app, name="merchant")
notice = Console(stderr=True, soft_wrap=True, highlight=False)

PROBE_SECONDS = 3.0


def _running_emulator(
    data_dir: Path | None, database_url: str | None, url: str | None, token: str | None
) -> str | None:
    """The base URL of the running emulator to go through, or None to work on the store directly: only
    when neither a data dir nor a database URL was given, the default data dir holds no SQLite store, and
    the emulator answers its health check."""
    if data_dir is not None or database_url is not None:
        return None
    settings = settings_from()
    if settings.database_url is not None or _has_store(settings.data_dir):
        return None
    base, verify, headers = resolve_url(url, token)
    try:
        answer = httpx.get(
            base + "/emulator/v1/health",
            timeout=PROBE_SECONDS,
            trust_env=False,
            verify=verify,
            headers=headers,
        )
        healthy = answer.status_code == 200 and answer.json().get("status") == "ok"
    except (httpx.HTTPError, ValueError, AttributeError):
        healthy = False
    return base if healthy else None


def _default_store() -> Path:
    return settings_from().data_dir.resolve()


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
    url: Url = None,
    token: Token = None,
) -> None:
    """Add a merchant with its own keys and write its material to the data dir (of the running emulator,
    when no data dir is given and ./.wxpay-emulator holds no store)."""
    base = _running_emulator(data_dir, database_url, url, token)
    if base is not None:
        body: dict[str, Any] = {"key_mode": key_mode.value, "appids": list(appids or ())}
        body.update({k: v for k, v in {"mchid": mchid, "appid": appid, "sp_mchid": sp}.items() if v})
        info = call("POST", url, "/emulator/v1/merchants", token, json=body)
        folder = Path(info["files"]["apiclient_key.pem"]).parent
        where = f"merchant {info['mchid']} created by the emulator at {base}; material in {folder}"
        _show(info, where, as_json)
        return
    from wxpay_emulator.app import build_domain, open_store
    from wxpay_emulator.domain.errors import DomainError
    from wxpay_emulator.material import merchant_json, write_material

    settings = settings_from(data_dir=data_dir, database_url=database_url)
    new_store = data_dir is None and database_url is None and not _has_store(settings.data_dir)
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
    if new_store:
        base, _verify, _headers = resolve_url(url, token)
        notice.print(
            f"[yellow]no emulator answered at {base} and {settings.data_dir.resolve()} held no store: "
            "created a new one there. A `serve` started in another directory (or with another "
            "--data-dir) will not see this merchant.[/yellow]"
        )
    _show(merchant_json(m, folder), f"merchant {m.mchid} created; material in {folder.resolve()}", as_json)


def _has_store(data_dir: Path) -> bool:
    return (data_dir / "emulator.db").exists()


def _show(info: dict[str, Any], where: str, as_json: bool) -> None:
    text = json.dumps(info, ensure_ascii=False, indent=2)
    if as_json:
        notice.print(where, markup=False)
        typer.echo(text)
    else:
        console.print(where, markup=False, highlight=False)
        console.print(text, markup=False, highlight=False)


@merchant_app.command("list")
def merchant_list(
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON document")] = False,
    url: Url = None,
    token: Token = None,
) -> None:
    """List merchants in the store (of the running emulator, when no data dir is given and
    ./.wxpay-emulator holds no store)."""
    base = _running_emulator(data_dir, database_url, url, token)
    if base is not None:
        infos: list[dict[str, Any]] = call("GET", url, "/emulator/v1/merchants", token)["data"]
        notice.print(f"merchants of the emulator at {base}", markup=False)
    elif data_dir is None and database_url is None and not _has_store(settings_from().data_dir):
        where, _verify, _headers = resolve_url(url, token)
        console.print(
            f"[red]no store in {_default_store()} and no emulator answering at {where}[/red]: "
            "start `wxpay-emulator serve`, or give --data-dir / --url"
        )
        raise typer.Exit(1)
    else:
        from wxpay_emulator.app import build_domain, open_store
        from wxpay_emulator.material import merchant_json

        settings = settings_from(data_dir=data_dir, database_url=database_url)
        store = open_store(settings)
        try:
            merchants = build_domain(store, settings).merchants.list()
        finally:
            store.dispose()
        folders = settings.data_dir / "merchants"
        infos = [merchant_json(m, folders / m.mchid) for m in merchants]
    if as_json:
        print_json({"data": infos})
        return
    table = Table("mchid", "appid", "key_mode", "sp_mchid", "serial_no", "pub_key_id")
    for info in infos:
        table.add_row(
            info["mchid"], info["appid"], info["key_mode"], info["sp_mchid"] or "", info["serial_no"],
            info["pub_key_id"],
        )  # fmt: skip
    print_table(table)

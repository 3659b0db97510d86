"""``wxpay-emulator merchant create|list``: merchants and their key material, straight in the store."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from wxpay_emulator.cli.base import DatabaseUrl, DataDir, app, console, print_json, print_table, settings_from
from wxpay_emulator.domain.models import KeyMode

merchant_app = typer.Typer(help="Merchants and their keys.", no_args_is_help=True)
app.add_typer(merchant_app, name="merchant")


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

    settings = settings_from(data_dir=data_dir, database_url=database_url)
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

    settings = settings_from(data_dir=data_dir, database_url=database_url)
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

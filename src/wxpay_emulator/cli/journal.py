"""The journal from the command line: ``requests`` (the recorded calls) and ``tail`` (the live event
stream of requests and delivery attempts)."""

from __future__ import annotations

import json
import sys
import time
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from wxpay_emulator.cli.base import (
    Json,
    Mchid,
    Token,
    Url,
    app,
    call,
    console,
    print_json,
    print_table,
    resolve_url,
)
from wxpay_emulator.journal.lines import Parts, delivery_parts, plain, request_parts

TAIL_RECONNECTS = 60  # consecutive failed (re)connections, one second apart, before tail gives up


def _entry_row(entry: dict[str, Any]) -> list[str]:
    sign = entry.get("sign_check")
    verdict = "" if sign is None else ("ok" if sign["ok"] else str(sign.get("reason")))
    query = f"?{entry['query']}" if entry.get("query") else ""
    return [
        str(entry["id"]),
        entry["time"],
        entry["family"],
        f"{entry['method']} {entry['path']}{query}",
        entry["mchid"] or "",
        str(entry["status"]),
        entry["code"] or "",
        f"{entry['duration_ms']:.1f}",
        verdict,
    ]


@app.command()
def requests(
    entry_id: Annotated[int | None, typer.Argument(help="show this entry in full")] = None,
    mchid: Mchid = None,
    family: Annotated[str | None, typer.Option(help="v3, v2, cloud or miniprogram")] = None,
    status: Annotated[str | None, typer.Option(help="an HTTP status (401) or a class (4xx)")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    cursor: Annotated[str | None, typer.Option(help="the next cursor a previous listing printed")] = None,
    as_json: Json = False,
    url: Url = None,
    token: Token = None,
) -> None:
    """The request journal, newest first: every call of every family, with its signature verdict."""
    if entry_id is not None:
        entry = call("GET", url, f"/emulator/v1/requests/{entry_id}", token)
        if as_json:
            print_json(entry)
            return
        _show_entry(entry)
        return
    params = {"mchid": mchid, "family": family, "status": status, "limit": limit, "cursor": cursor}
    page = call(
        "GET", url, "/emulator/v1/requests", token, params={k: v for k, v in params.items() if v is not None}
    )
    if as_json:
        print_json(page)
        return
    table = Table("id", "time", "family", "request", "mchid", "status", "code", "ms", "sign")
    for entry in page["data"]:
        table.add_row(*_entry_row(entry))
    print_table(table)
    if page["next"]:
        console.print(f"older: wxpay-emulator requests --cursor {page['next']}", highlight=False)


def _show_entry(entry: dict[str, Any]) -> None:
    head = Table(show_header=False, box=None)
    for key, value in zip(
        ("id", "time", "family", "request", "mchid", "status", "code", "ms"), _entry_row(entry), strict=False
    ):
        head.add_row(key, value)
    print_table(head)
    sign = entry.get("sign_check")
    if sign is not None:
        verdict = "[green]ok[/green]" if sign["ok"] else f"[red]failed: {sign['reason']}[/red]"
        console.print(f"[bold]signature[/bold] ({sign.get('scheme') or ''}): {verdict}")
        if sign.get("hint"):
            console.print(f"hint: {sign['hint']}", highlight=False)
        if sign.get("expected_message") is not None:
            console.print("[bold]the string the emulator verified[/bold] (repr, so newlines show):")
            console.print(repr(sign["expected_message"]), markup=False, highlight=False)
    for side in ("request", "response"):
        part = entry.get(side) or {}
        console.print(f"[bold]{side}[/bold] {json.dumps(part.get('headers', {}), ensure_ascii=False)}")
        console.print(part.get("body", ""), markup=False, highlight=False)


def _styled(parts: Parts) -> Text:
    text = Text()
    for i, (piece, style) in enumerate(parts):
        if not piece:
            continue
        if i:
            text.append("  ")
        text.append(piece, style=style)
    return text


@app.command()
def tail(
    mchid: Mchid = None,
    family: Annotated[str | None, typer.Option(help="v3, v2, cloud or miniprogram")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
    url: Url = None,
    token: Token = None,
) -> None:
    """Follow a running emulator live: every request and every notification delivery attempt."""
    base, verify, auth = resolve_url(url, token)
    params = {k: v for k, v in {"mchid": mchid, "family": family}.items() if v is not None}
    out = Console(highlight=False, soft_wrap=True)
    err = Console(stderr=True, highlight=False)
    last_id: str | None = None
    failures = 0
    announced = False
    try:
        while True:
            headers = {**auth, "Accept": "text/event-stream"}
            if last_id is not None:
                headers["Last-Event-ID"] = last_id
            try:
                timeout = httpx.Timeout(10.0, read=30.0)  # the stream sends a comment every few seconds
                with (
                    httpx.Client(timeout=timeout, trust_env=False, verify=verify) as client,
                    client.stream("GET", base + "/emulator/v1/events", params=params, headers=headers) as r,
                ):
                    if r.status_code != 200:
                        r.read()
                        err.print(f"[red]{base} answered {r.status_code}: {r.text[:300]}[/red]")
                        raise typer.Exit(1)
                    failures = 0
                    if not announced:
                        err.print(f"Ready! Following {base} (Ctrl-C to stop)")
                        announced = True
                    event: dict[str, str] = {}
                    for line in r.iter_lines():
                        if line == "":
                            if "data" in event:
                                last_id = event.get("id", last_id)
                                _emit(out, event.get("event", "message"), event["data"], as_json)
                            event = {}
                            continue
                        if line.startswith(":"):
                            continue
                        name, _, value = line.partition(":")
                        value = value.removeprefix(" ")
                        event[name] = event[name] + "\n" + value if name in event else value
            except httpx.HTTPError as exc:
                failures += 1
                if failures >= TAIL_RECONNECTS:
                    err.print(f"[red]cannot reach the emulator at {base}: {exc}[/red]")
                    raise typer.Exit(2) from exc
                if failures == 1:
                    err.print(f"[yellow]{base}: {type(exc).__name__}; reconnecting…[/yellow]")
                time.sleep(1.0)
    except KeyboardInterrupt:
        return


def _emit(out: Console, kind: str, data_text: str, as_json: bool) -> None:
    try:
        data = json.loads(data_text)
    except ValueError:
        return
    if as_json:
        typer.echo(json.dumps({"type": kind, **data}, ensure_ascii=False))
    else:
        parts = request_parts(data) if kind == "request" else delivery_parts(data)
        if out.is_terminal:
            out.print(_styled(parts))
        else:
            typer.echo(plain(parts))
    sys.stdout.flush()

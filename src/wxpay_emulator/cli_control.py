"""The control plane and the journal from the command line: ``notifications``, ``clock``, ``reset``,
``faults``, ``close``, ``requests`` and ``tail``. Each talks to a running emulator over HTTP (``--url``, or
the data dir's server.json, see cli.resolve_url); each listing takes ``--json``."""

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

from wxpay_emulator.cli import Token, Url, _call, app, console, print_json, print_table, resolve_url
from wxpay_emulator.journal.lines import Parts, delivery_parts, plain, request_parts

notifications_app = typer.Typer(help="Notifications and their delivery attempts.", no_args_is_help=True)
clock_app = typer.Typer(
    help="The business clock (prepay expiry, retry schedule, refund delay).", no_args_is_help=True
)
faults_app = typer.Typer(
    help="Make the next calls of an operation fail with a WeChat error.", no_args_is_help=True
)
app.add_typer(notifications_app, name="notifications")
app.add_typer(clock_app, name="clock")
app.add_typer(faults_app, name="faults")

Json = Annotated[bool, typer.Option("--json", help="the control plane's JSON instead of a table")]
Mchid = Annotated[str | None, typer.Option("--mchid", help="only this merchant's")]
TAIL_RECONNECTS = 60  # consecutive failed (re)connections, one second apart, before tail gives up


def _first_mchid(url: str | None, token: str | None) -> str:
    merchants = _call("GET", url, "/emulator/v1/merchants", token)["data"]
    if not merchants:
        console.print("[red]the emulator has no merchant[/red]")
        raise typer.Exit(1)
    return str(merchants[0]["mchid"])


# --- notifications -----------------------------------------------------------------------------------


def _notifications(url: str | None, token: str | None, mchid: str | None) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = _call(
        "GET", url, "/emulator/v1/notifications", token, params={"mchid": mchid} if mchid else None
    )["data"]
    return found


@notifications_app.command("list")
def notifications_list(
    mchid: Mchid = None, as_json: Json = False, url: Url = None, token: Token = None
) -> None:
    """Notifications, newest first, with their delivery state."""
    found = _notifications(url, token, mchid)
    if as_json:
        print_json({"data": found})
        return
    table = Table("id", "mchid", "family", "event_type", "status", "attempts", "next_attempt_at", "url")
    for n in found:
        table.add_row(
            n["id"],
            n["mchid"],
            n["family"],
            n["event_type"],
            n["status"],
            str(n["attempts"]),
            n["next_attempt_at"] or "",
            n["url"],
        )
    print_table(table)


def _decrypted(url: str | None, token: str | None, n: dict[str, Any]) -> Any:
    """The plaintext of an APIv3 notification's ``resource`` (None for other families)."""
    from wxpay_emulator.crypto import CryptoError, aead

    try:
        resource = json.loads(n["body"]).get("resource")
    except (ValueError, AttributeError):
        return None
    if not isinstance(resource, dict) or "ciphertext" not in resource:
        return None
    key = _call("GET", url, f"/emulator/v1/merchants/{n['mchid']}", token)["apiv3_key"]
    try:
        plaintext = aead.decrypt(
            key.encode(),
            resource["nonce"].encode(),
            (resource.get("associated_data") or "").encode(),
            resource["ciphertext"],
        )
    except CryptoError as exc:
        return f"(does not decrypt with the merchant's APIv3 key: {exc})"
    try:
        return json.loads(plaintext)
    except ValueError:
        return plaintext.decode("utf-8", "replace")


@notifications_app.command("show")
def notifications_show(
    notification_id: str, as_json: Json = False, url: Url = None, token: Token = None
) -> None:
    """One notification: the envelope, its decrypted resource (APIv3) and every delivery attempt."""
    found = next((n for n in _notifications(url, token, None) if n["id"] == notification_id), None)
    if found is None:
        console.print(f"[red]NOTIFICATION_NOT_FOUND: no notification {notification_id}[/red]")
        raise typer.Exit(1)
    decrypted = _decrypted(url, token, found)
    if as_json:
        print_json({**found, "decrypted": decrypted})
        return
    head = Table(show_header=False, box=None)
    for key in ("id", "mchid", "family", "event_type", "url", "status", "attempts", "next_attempt_at"):
        head.add_row(key, str(found[key] if found[key] is not None else ""))
    head.add_row("created_at", found["created_at"])
    head.add_row("delivered_at", found["delivered_at"] or "")
    print_table(head)
    console.print("[bold]envelope[/bold]")
    console.print(found["body"], markup=False, highlight=False)
    if decrypted is not None:
        console.print("[bold]decrypted resource[/bold]")
        text = (
            decrypted if isinstance(decrypted, str) else json.dumps(decrypted, ensure_ascii=False, indent=2)
        )
        console.print(text, markup=False, highlight=False)
    attempts = Table("attempted_at", "status", "error", "ms", "response")
    for a in found["deliveries"]:
        attempts.add_row(
            a["attempted_at"],
            str(a["response_status"] or ""),
            a["error"] or "",
            f"{a['duration_ms']:.1f}",
            (a["response_body"] or "")[:200],
        )
    console.print(f"[bold]{len(found['deliveries'])} delivery attempt(s)[/bold]")
    print_table(attempts)


@notifications_app.command("redeliver")
def notifications_redeliver(notification_id: str, url: Url = None, token: Token = None) -> None:
    """Deliver a notification again now (a delivered or failed one too)."""
    data = _call("POST", url, f"/emulator/v1/notifications/{notification_id}/redeliver", token)
    console.print(f"notification {data['id']}: {data['status']}, delivery scheduled now", highlight=False)


# --- clock, reset, faults, close ---------------------------------------------------------------------


@clock_app.command("show")
def clock_show(as_json: Json = False, url: Url = None, token: Token = None) -> None:
    """The business clock: now, and how far it is ahead of the real clock."""
    data = _call("GET", url, "/emulator/v1/clock", token)
    if as_json:
        print_json(data)
        return
    console.print(f"now {data['now']} (offset {data['offset_seconds']:g} s)", highlight=False)


@clock_app.command("advance")
def clock_advance(
    seconds: Annotated[float, typer.Argument(min=0)], url: Url = None, token: Token = None
) -> None:
    """Move the business clock forward: prepay ids expire, retries and refunds fall due."""
    data = _call("POST", url, "/emulator/v1/clock", token, json={"advance_seconds": seconds})
    console.print(f"now {data['now']} (offset {data['offset_seconds']:g} s)", highlight=False)


@app.command()
def reset(
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask")] = False,
    url: Url = None,
    token: Token = None,
) -> None:
    """Forget every order, refund, notification and journal entry; put the clock back (merchants stay)."""
    if not yes and not typer.confirm("Forget every order, notification and journal entry?", default=False):
        console.print("not reset (give --yes to skip the question)")
        raise typer.Exit(1)
    _call("POST", url, "/emulator/v1/reset", token)
    console.print("reset: orders, refunds, notifications and the journal are empty; clock offset 0")


@faults_app.command("arm")
def faults_arm(
    operation: str,
    code: str,
    count: Annotated[int, typer.Option("--count", min=1, max=1000, help="how many calls fail")] = 1,
    message: Annotated[str | None, typer.Option("--message", help="default: WeChat's message")] = None,
    url: Url = None,
    token: Token = None,
) -> None:
    """The next COUNT calls of OPERATION (e.g. v3.jsapi, v2.unifiedorder) answer CODE."""
    body: dict[str, Any] = {"operation": operation, "code": code, "count": count}
    if message is not None:
        body["message"] = message
    data = _call("POST", url, "/emulator/v1/faults", token, json=body)
    _print_faults(data["pending"])


def _print_faults(pending: dict[str, list[str]]) -> None:
    if not pending:
        console.print("no fault armed")
        return
    table = Table("operation", "next codes, in order")
    for operation, codes in pending.items():
        table.add_row(operation, " ".join(codes))
    print_table(table)


@faults_app.command("list")
def faults_list(as_json: Json = False, url: Url = None, token: Token = None) -> None:
    """Faults still armed."""
    data = _call("GET", url, "/emulator/v1/faults", token)
    if as_json:
        print_json(data)
        return
    _print_faults(data["pending"])


@faults_app.command("clear")
def faults_clear(url: Url = None, token: Token = None) -> None:
    """Disarm every fault."""
    _call("DELETE", url, "/emulator/v1/faults", token)
    console.print("no fault armed")


@app.command()
def close(
    out_trade_no: str,
    mchid: Annotated[str | None, typer.Option(help="default: the first merchant")] = None,
    url: Url = None,
    token: Token = None,
) -> None:
    """Close an unpaid order, as its merchant would."""
    mchid = mchid or _first_mchid(url, token)
    data = _call(
        "POST", url, "/emulator/v1/orders/close", token, json={"mchid": mchid, "out_trade_no": out_trade_no}
    )
    console.print(json.dumps(data, ensure_ascii=False, indent=2), markup=False, highlight=False)


# --- the journal -------------------------------------------------------------------------------------


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
        entry = _call("GET", url, f"/emulator/v1/requests/{entry_id}", token)
        if as_json:
            print_json(entry)
            return
        _show_entry(entry)
        return
    params = {"mchid": mchid, "family": family, "status": status, "limit": limit, "cursor": cursor}
    page = _call(
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

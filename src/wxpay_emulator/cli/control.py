"""The control plane from the command line: ``notifications``, ``clock``, ``reset``, ``faults`` and
``close``. Each talks to a running emulator over HTTP (``--url``, or the data dir's server.json, see
base.resolve_url); each listing takes ``--json``."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from wxpay_emulator.cli.base import Json, Mchid, Token, Url, app, call, console, print_json, print_table

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


def _first_mchid(url: str | None, token: str | None) -> str:
    merchants = call("GET", url, "/emulator/v1/merchants", token)["data"]
    if not merchants:
        console.print("[red]the emulator has no merchant[/red]")
        raise typer.Exit(1)
    return str(merchants[0]["mchid"])


# --- notifications -----------------------------------------------------------------------------------


def _notifications(url: str | None, token: str | None, mchid: str | None) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = call(
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
    key = call("GET", url, f"/emulator/v1/merchants/{n['mchid']}", token)["apiv3_key"]
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
    data = call("POST", url, f"/emulator/v1/notifications/{notification_id}/redeliver", token)
    console.print(f"notification {data['id']}: {data['status']}, delivery scheduled now", highlight=False)


# --- clock, reset, faults, close ---------------------------------------------------------------------


@clock_app.command("show")
def clock_show(as_json: Json = False, url: Url = None, token: Token = None) -> None:
    """The business clock: now, and how far it is ahead of the real clock."""
    data = call("GET", url, "/emulator/v1/clock", token)
    if as_json:
        print_json(data)
        return
    console.print(f"now {data['now']} (offset {data['offset_seconds']:g} s)", highlight=False)


@clock_app.command("advance")
def clock_advance(
    seconds: Annotated[float, typer.Argument(min=0)], url: Url = None, token: Token = None
) -> None:
    """Move the business clock forward: prepay ids expire, retries and refunds fall due."""
    data = call("POST", url, "/emulator/v1/clock", token, json={"advance_seconds": seconds})
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
    call("POST", url, "/emulator/v1/reset", token)
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
    data = call("POST", url, "/emulator/v1/faults", token, json=body)
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
    data = call("GET", url, "/emulator/v1/faults", token)
    if as_json:
        print_json(data)
        return
    _print_faults(data["pending"])


@faults_app.command("clear")
def faults_clear(url: Url = None, token: Token = None) -> None:
    """Disarm every fault."""
    call("DELETE", url, "/emulator/v1/faults", token)
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
    data = call(
        "POST", url, "/emulator/v1/orders/close", token, json={"mchid": mchid, "out_trade_no": out_trade_no}
    )
    console.print(json.dumps(data, ensure_ascii=False, indent=2), markup=False, highlight=False)


# --- the journal -------------------------------------------------------------------------------------

"""``wxpay-emulator audit notify URL``: the report card of a merchant's notification handler.

It asks the running emulator (``--url`` / WXPAY_EMULATOR_URL, else the ``serve`` of the data dir, from its
server.json, as every other command finds it) to run the audit (``POST /emulator/v1/audits``): the emulator
holds the platform keys. Exit status: 0 when every check passes, 1 when one fails, 2 when the audit could
not run (emulator unreachable, unknown merchant or order).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from wxpay_emulator import server_file
from wxpay_emulator.audit.report import Report, write_junit
from wxpay_emulator.config import Settings

audit_app = typer.Typer(help="Audit your integration against WeChat Pay's rules.", no_args_is_help=True)


@audit_app.command("notify")
def notify(
    target: Annotated[str, typer.Argument(metavar="URL", help="your notification handler's URL")],
    mchid: Annotated[
        str | None, typer.Option("--mchid", help="default: the emulator's first merchant")
    ] = None,
    family: Annotated[str, typer.Option("--family", help="v3, v2 or cloud")] = "v3",
    out_trade_no: Annotated[
        str | None,
        typer.Option("--out-trade-no", help="use this paid order's real notification (default: synthetic)"),
    ] = None,
    sign_type: Annotated[
        str | None, typer.Option("--sign-type", help="v2 synthetic order's sign_type: MD5 or HMAC-SHA256")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
    junit: Annotated[Path | None, typer.Option("--junit", help="also write a JUnit XML file")] = None,
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            envvar="WXPAY_EMULATOR_URL",
            help="a running emulator (default: the one serving the data dir, from its server.json)",
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="WXPAY_EMULATOR_CONTROL_TOKEN",
            help="the control token of an emulator bound to a non-loopback address "
            "(default: the one in the data dir's server.json)",
        ),
    ] = None,
) -> None:
    """Send your handler genuine and precisely broken notifications and grade its answers."""
    console = Console(soft_wrap=True, stderr=as_json)
    body: dict[str, Any] = {"url": target, "family": family}
    for key, value in (("mchid", mchid), ("out_trade_no", out_trade_no), ("sign_type", sign_type)):
        if value is not None:
            body[key] = value
    base, verify, headers = server_file.resolve(Settings().data_dir, url, token)
    try:
        response = httpx.post(
            base + "/emulator/v1/audits",
            json=body,
            timeout=120,
            trust_env=False,
            verify=verify,
            headers=headers,
        )
    except httpx.HTTPError as exc:
        console.print(f"[red]cannot reach the emulator at {base}: {exc}[/red]")
        raise typer.Exit(2) from exc
    data = response.json()
    if response.status_code >= 400:
        console.print(f"[red]{data.get('code')}: {data.get('message')}[/red]")
        raise typer.Exit(2)
    report = Report.from_json(data)
    if junit is not None:
        write_junit(report, junit)
    if as_json:
        typer.echo(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    else:
        print_report(report, console)
    if not report.passed:
        raise typer.Exit(1)


def print_report(report: Report, console: Console) -> None:
    origin = "synthetic paid order" if report.synthetic else "its real notification"
    table = Table(
        title=f"audit notify {report.family} {report.target} (merchant {report.mchid}, order "
        f"{report.out_trade_no}: {origin})",
        show_lines=True,
    )
    for column in ("check", "WeChat rule", "expected", "observed"):
        table.add_column(column, overflow="fold")
    for c in report.checks:
        mark = "[green]PASS[/green]" if c.passed else "[red]FAIL[/red]"
        table.add_row(f"{mark} {c.name}", c.rule, c.expected, c.observed)
    (console if console.is_terminal else Console(width=200, stderr=console.stderr)).print(table)
    failed = report.failed()
    if failed:
        console.print(f"[red]{len(failed)} of {len(report.checks)} checks failed: {', '.join(failed)}[/red]")
    else:
        console.print(f"[green]all {len(report.checks)} checks passed[/green]")

"""``wxpay-emulator``: serve, merchant, pay, orders, refund, the control plane, the journal and the
audit. One module per group of commands, each registering on the root ``app`` of base.py. Every flag also
reads an environment variable."""

from __future__ import annotations

from wxpay_emulator.audit.cli import audit_app
from wxpay_emulator.cli import control, journal, merchants, payments, serve
from wxpay_emulator.cli.base import app, resolve_url, version

app.add_typer(audit_app, name="audit")

__all__ = ["app", "control", "journal", "main", "merchants", "payments", "resolve_url", "serve", "version"]


def main() -> None:
    app()

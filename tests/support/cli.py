"""``wxpay-emulator`` commands run in the test process (typer's CliRunner on cli.py's app).

A subprocess costs a Python start and the CLI's imports (over a second on a loaded CI machine); the
tests that prove the real entry point (``python -m wxpay_emulator``, the console script, exit codes,
``serve``) still start one. Every other CLI call goes through :func:`run_cli`, which takes and gives
what ``subprocess.run`` would: arguments, the WXPAY_EMULATOR_* environment, stdin; exit status, stdout
and stderr. An exception other than the command's own exit is raised, never reported as exit status 1.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from typer.testing import CliRunner

from wxpay_emulator.cli import app

PREFIX = "WXPAY_EMULATOR_"


@dataclass(frozen=True)
class CliRun:
    """What a finished ``wxpay-emulator`` run left: as ``subprocess.CompletedProcess`` names it."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


def run_cli(*args: str, env: Mapping[str, str] | None = None, stdin: str | None = None) -> CliRun:
    """``wxpay-emulator ARGS`` in process. Its WXPAY_EMULATOR_* environment is exactly ``env`` (the
    test process's own such variables are hidden while it runs, as a subprocess given a cleaned
    environment would not see them); every other variable is the test process's."""
    given = dict(env or {})
    assert all(name.startswith(PREFIX) for name in given), given
    hidden: dict[str, str | None] = {name: None for name in os.environ if name.startswith(PREFIX)}
    result = CliRunner().invoke(app, list(args), env={**hidden, **given}, input=stdin)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"wxpay-emulator {' '.join(args)} raised: {result.exception!r}") from (
            result.exception
        )
    return CliRun(tuple(args), result.exit_code, result.stdout, result.stderr)


def emulator_env() -> dict[str, str]:
    """The test process's WXPAY_EMULATOR_* variables (what a subprocess given ``os.environ`` sees)."""
    return {name: value for name, value in os.environ.items() if name.startswith(PREFIX)}

"""server.json: written 0600 (it names the control token), and how the CLI resolves URL and token."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from wxpay_emulator import server_file
from wxpay_emulator.cli import resolve_url


def test_written_0600_in_a_0700_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    target = server_file.write(data_dir, {"url": "http://127.0.0.1:1", "pid": os.getpid(), "token": "t"})
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert server_file.read(data_dir) == {"url": "http://127.0.0.1:1", "pid": os.getpid(), "token": "t"}


def test_the_cli_sends_the_token_of_the_data_dirs_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WXPAY_EMULATOR_DATA_DIR", str(tmp_path))
    server_file.write(tmp_path, {"url": "http://127.0.0.1:9", "pid": os.getpid(), "token": "secret"})
    assert resolve_url(None) == ("http://127.0.0.1:9", True, {"Authorization": "Bearer secret"})
    # --token / WXPAY_EMULATOR_CONTROL_TOKEN wins
    assert resolve_url(None, "given")[2] == {"Authorization": "Bearer given"}
    # another server than the data dir's never gets server.json's token
    assert resolve_url("http://127.0.0.1:10") == ("http://127.0.0.1:10", True, {})
    assert resolve_url("http://127.0.0.1:9/")[2] == {"Authorization": "Bearer secret"}

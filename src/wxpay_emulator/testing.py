"""Run the emulator as a real server process for a test suite (yours or ours).

    with run_emulator(tmp_path) as emu:
        merchant = emu.merchant()          # merchant.json of the default merchant, with file paths
        httpx.post(emu.url + "/emulator/v1/payments", json={...})

The process is started with ``python -m wxpay_emulator serve`` on a free loopback port and stopped
(or killed, for restart tests) when the block ends.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

STARTUP_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def read_material(data_dir: Path, mchid: str) -> dict[str, Any]:
    """merchant.json of ``mchid`` in ``data_dir`` with its folder and PEM files read in."""
    folder = Path(data_dir) / "merchants" / str(mchid)
    info: dict[str, Any] = json.loads((folder / "merchant.json").read_text(encoding="utf-8"))
    info["folder"] = str(folder)
    for name in ("apiclient_key.pem", "apiclient_cert.pem", "wechatpay_cert.pem", "pub_key.pem"):
        info[name] = (folder / name).read_text()
    return info


class EmulatorProcess:
    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        database_url: str | None = None,
        env: Mapping[str, str] | None = None,
        tls: bool = False,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.database_url = database_url
        self.env = dict(env or {})
        self.tls = tls
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.data_dir / f"emulator-{self.port}.log"

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.env}
        env.pop("WXPAY_EMULATOR_DATABASE_URL", None)
        cmd = [sys.executable, "-m", "wxpay_emulator", "serve", "--port", str(self.port),
               "--data-dir", str(self.data_dir)]  # fmt: skip
        if self.database_url:
            cmd += ["--database-url", self.database_url]
        if self.tls:
            cmd += ["--tls"]
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"emulator exited with {self.proc.returncode}: {self.log()}")
            try:
                health = httpx.get(self.url + "/emulator/v1/health", timeout=1, **self.http_options())
                if health.status_code == 200:
                    return
            except (httpx.HTTPError, OSError):  # not listening yet, or (TLS) its certificate not yet written
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"emulator did not start within {STARTUP_TIMEOUT}s: {self.log()}")

    @property
    def server_certificate(self) -> Path:
        """In TLS mode: the emulator's HTTPS certificate, to trust in clients (``verify=``)."""
        return self.data_dir / "tls" / "server.pem"

    def http_options(self) -> dict[str, Any]:
        """httpx keyword arguments for talking to this emulator (loopback only; its TLS certificate)."""
        verify: Any = ssl.create_default_context(cafile=str(self.server_certificate)) if self.tls else True
        options: dict[str, Any] = {"trust_env": False, "verify": verify}
        if self.token:  # the control token, when the emulator requires one (api/control_token.py)
            options["headers"] = {"Authorization": f"Bearer {self.token}"}
        return options

    @property
    def token(self) -> str | None:
        """The control token given in ``env`` (WXPAY_EMULATOR_CONTROL_TOKEN), if any."""
        return self.env.get("WXPAY_EMULATOR_CONTROL_TOKEN") or None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def merchant(self, mchid: str | None = None) -> dict[str, Any]:
        """merchant.json of ``mchid`` (default: the first merchant) with its PEM files read in."""
        if mchid is None:
            found = httpx.get(self.url + "/emulator/v1/merchants", **self.http_options())
            mchid = found.json()["data"][0]["mchid"]
        return read_material(self.data_dir, mchid)

    def create_merchant(self, **body: Any) -> dict[str, Any]:
        response = httpx.post(
            self.url + "/emulator/v1/merchants", json=body, timeout=30, **self.http_options()
        )
        response.raise_for_status()
        return self.merchant(response.json()["mchid"])


@contextmanager
def run_emulator(
    data_dir: Path,
    *,
    port: int | None = None,
    database_url: str | None = None,
    env: Mapping[str, str] | None = None,
    tls: bool = False,
) -> Iterator[EmulatorProcess]:
    emu = EmulatorProcess(data_dir, port, database_url, env, tls)
    emu.start()
    try:
        yield emu
    finally:
        emu.stop()

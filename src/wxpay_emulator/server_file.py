"""``DATA_DIR/server.json``: how CLI commands find a running ``serve`` when no ``--url`` is given.

``serve`` writes it once listening (url, pid, port, the TLS certificate to trust, the control token when
one is required; mode 0600, like every file of the data dir) and removes it on a
clean exit. A file whose pid is no longer alive (the server was killed) is stale and ignored.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from wxpay_emulator.filemodes import private_dir, write_private

NAME = "server.json"
DEFAULT_URL = "http://127.0.0.1:8600"


def path_in(data_dir: Path) -> Path:
    return data_dir / NAME


def write(data_dir: Path, info: dict[str, Any]) -> Path:
    """Write the file, 0600 from its creation on (it names the control token; filemodes.py)."""
    private_dir(data_dir)
    target = path_in(data_dir)
    temporary = target.with_suffix(f".{os.getpid()}.tmp")
    write_private(temporary, json.dumps(info, indent=2).encode("utf-8"))
    temporary.replace(target)
    return target


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def read(data_dir: Path) -> dict[str, Any] | None:
    """The running server's info, or None (no file, unreadable, or stale)."""
    try:
        info = json.loads(path_in(data_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict) or not isinstance(info.get("url"), str):
        return None
    pid = info.get("pid")
    if not isinstance(pid, int) or not pid_alive(pid):
        return None
    return info


def remove(data_dir: Path, pid: int) -> None:
    """Remove the file if it is still this process's (another serve may have replaced it)."""
    target = path_in(data_dir)
    with contextlib.suppress(OSError, ValueError):
        if json.loads(target.read_text(encoding="utf-8")).get("pid") == pid:
            target.unlink()


def resolve(data_dir: Path, url: str | None, token: str | None = None) -> tuple[str, Any, dict[str, str]]:
    """(base URL, httpx ``verify``, headers) of the emulator a CLI command talks to: ``url`` (``--url`` /
    WXPAY_EMULATOR_URL), else the running ``serve`` of ``data_dir`` (its server.json), else
    DEFAULT_URL. The control token is ``token`` (``--token`` / WXPAY_EMULATOR_CONTROL_TOKEN), else the
    one server.json names (only when talking to that server)."""
    import ssl

    info = read(data_dir)
    if info is not None and url and url.rstrip("/") != str(info["url"]).rstrip("/"):
        info = None  # another server than the data dir's: nothing of server.json applies to it
    if info is not None:
        url = str(info["url"])
        if not token and isinstance(info.get("token"), str):
            token = str(info["token"])
    url = (url or DEFAULT_URL).rstrip("/")
    verify: Any = True
    if url.startswith("https://"):
        ca = Path(info["ca"]) if info is not None and info.get("ca") else data_dir / "tls" / "server.pem"
        if ca.exists():
            verify = ssl.create_default_context(cafile=str(ca))
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return url, verify, headers

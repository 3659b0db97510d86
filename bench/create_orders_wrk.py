"""Signed APIv3 creates measured with ``wrk``: the server's cost, not its client's.

    .venv/bin/python bench/create_orders_wrk.py [--seconds 10] [--connections 16] [--requests 8000]
                                                [--database-url postgresql://...] [--workers 1]

bench/create_orders.py drives the server from Python threads, which use about a core beside the server
on a 2-core machine. Here the load comes from ``wrk`` (Debian's package; installed with ``apt-get
install -y wrk`` when absent) replaying requests signed before the clock starts (bench/create_orders.py's
``sign_requests``: a unique ``out_trade_no`` and ``payer.openid`` each), from a Lua script that gives
each wrk thread its own slice. Targets: the emulator (``serve``, SQLite unless ``--database-url``,
``--workers`` processes) and the signed echo (bench/echo_app.py, one process), each for ``--seconds``,
the echo first. Printed: requests/s of each, non-2xx count, and the ratio emulator/echo.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from create_orders import Merchant, run_echo, sign_requests

from wxpay_emulator.testing import run_emulator

LUA = r"""
local requests = {}
local counter = 0
local threads = {}
local index = 0

function setup(thread)
  thread:set("tid", index)
  index = index + 1
  table.insert(threads, thread)
end

function init(args)
  local n, i = tonumber(args[2]), 0
  for line in io.lines(args[1]) do
    if i % n == tid then
      local path, auth, body = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
      table.insert(requests, wrk.format("POST", path, {
        ["Authorization"] = auth, ["Content-Type"] = "application/json", ["Accept"] = "application/json"
      }, body))
    end
    i = i + 1
  end
end

function request()
  counter = counter + 1
  return requests[(counter - 1) % #requests + 1]
end
"""


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=True, stdout=subprocess.DEVNULL)
        found = shutil.which("wrk")
    if found is None:
        raise RuntimeError("wrk is not installed and apt-get could not install it")
    return found


def run_wrk(
    wrk: str, url: str, script: Path, requests_file: Path, args: argparse.Namespace
) -> dict[str, Any]:
    threads = 2
    cmd = [wrk, f"-t{threads}", f"-c{args.connections}", f"-d{args.seconds}s", "--latency", "-s", str(script)]
    cmd += [url, "--", str(requests_file), str(threads)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.seconds + 60, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    p99 = re.search(r"99%\s+([\d.]+\w+)", out)
    sent = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    if sent > args.requests:
        print(f"  note: {sent} requests > --requests {args.requests}: some were replays (re-entries)")
    return {"rps": rps, "non2xx": int(non2xx.group(1)) if non2xx else 0, "p99": p99.group(1) if p99 else "?"}


def main() -> int:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--requests", type=int, default=8000, help="pre-signed creates (each used once)")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    wrk = ensure_wrk()
    env = {"WXPAY_EMULATOR_WORKERS": str(args.workers)}
    with tempfile.TemporaryDirectory(prefix="wxpay-bench-wrk-") as tmp:
        data_dir = Path(tmp)
        script = data_dir / "replay.lua"
        script.write_text(LUA)
        with run_emulator(data_dir / "emulator", database_url=args.database_url, env=env) as emu:
            info = emu.merchant()
            key = serialization.load_pem_private_key(info["apiclient_key.pem"].encode(), password=None)
            assert isinstance(key, rsa.RSAPrivateKey)
            merchant = Merchant(info["mchid"], info["appid"], info["serial_no"], key)
            cert_path = Path(info["folder"]) / "apiclient_cert.pem"
            files = {}
            with httpx.Client(base_url="http://127.0.0.1") as client:
                for name in ("echo", "emulator"):
                    path = data_dir / f"{name}.tsv"
                    with path.open("w") as out:
                        tag = os.urandom(6).hex() + name[:2]
                        for r in sign_requests(client, merchant, args.requests, tag):
                            body = r.content.decode()
                            out.write(f"{r.url.raw_path.decode()}\t{r.headers['Authorization']}\t{body}\n")
                    files[name] = path
            load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
            print(f"store: {args.database_url or 'SQLite'}, emulator workers: {args.workers}; load: {load}")
            with run_echo(data_dir, cert_path, merchant.serial_no) as echo:
                base = run_wrk(wrk, echo.url, script, files["echo"], args)
            got = run_wrk(wrk, emu.url, script, files["emulator"], args)
    for name, r in (("signed echo (1 process)", base), (f"emulator ({args.workers} process)", got)):
        print(f"  {name:<26} {r['rps']:8.0f} req/s   p99 {r['p99']:>8}   non-2xx {r['non2xx']}")
    print(f"  ratio emulator / echo: {got['rps'] / base['rps']:.2f}")
    return 1 if got["non2xx"] or base["non2xx"] else 0


if __name__ == "__main__":
    sys.exit(main())

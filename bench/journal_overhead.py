"""What the request journal costs per request: signed APIv3 JSAPI creates (as bench/create_orders.py
sends them) against two emulators sharing one store, the journal on (as ``serve`` runs by default, its
line per request going to a log file) and off (``WXPAY_EMULATOR_JOURNAL=false``: no middleware at all).

    .venv/bin/python bench/journal_overhead.py [--requests 1000] [--seconds 20] [--concurrency 8]
                                               [--warmup 50] [--rounds 4] [--database-url ...]

The targets take turns round by round (ABBA), so other load on the machine falls on both; the figure
that matters is the server CPU per request, and the ratio of the rates (on / off).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx
from create_orders import Merchant, Tally, Target, bench, parse_args, percentile, rate
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from wxpay_emulator.testing import run_emulator


def report(results: dict[str, tuple[Tally, Tally]]) -> int:
    print(f"{'target':<14}{'requests':>10}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'server cpu ms/req':>20}")
    for name, (_, run) in results.items():
        lat = sorted(run.latencies)
        cpu = run.server_cpu / max(len(lat), 1) * 1000
        print(
            f"{name:<14}{len(lat):>10}{rate(run):>10.1f}{percentile(lat, 50) * 1000:>10.2f}"
            f"{percentile(lat, 99) * 1000:>10.2f}{cpu:>20.3f}"
        )
    on, off = results["journal-on"][1], results["journal-off"][1]
    cpu_on = on.server_cpu / max(len(on.latencies), 1) * 1000
    cpu_off = off.server_cpu / max(len(off.latencies), 1) * 1000
    print(f"ratio of rates (on/off) = {rate(on) / rate(off):.2f}")
    print(f"journal cost: {cpu_on - cpu_off:+.3f} ms of server CPU per request")
    failures = sum(len(t.failures) for tallies in results.values() for t in tallies)
    print(f"failures: {failures}")
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="wxpay-bench-journal-") as tmp:
        data_dir = Path(tmp) / "emulator"
        on_env = {"WXPAY_EMULATOR_JOURNAL": "true"}
        off_env = {"WXPAY_EMULATOR_JOURNAL": "false"}
        db = args.database_url
        with (
            run_emulator(data_dir, env=on_env, database_url=db) as on,
            run_emulator(data_dir, env=off_env, database_url=db) as off,
        ):
            info: dict[str, Any] = on.merchant()
            key = serialization.load_pem_private_key(info["apiclient_key.pem"].encode(), password=None)
            if not isinstance(key, rsa.RSAPrivateKey) or on.proc is None or off.proc is None:
                raise RuntimeError("the merchant's apiclient_key.pem is not an RSA key")
            merchant = Merchant(info["mchid"], info["appid"], info["serial_no"], key)
            platform_pem = info["pub_key.pem" if info["key_mode"] == "pubkey" else "wechatpay_cert.pem"]
            targets = [
                Target("journal-off", off.url, off.proc.pid, platform_pem.encode()),
                Target("journal-on", on.url, on.proc.pid, platform_pem.encode()),
            ]
            load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
            print(f"store: {db or 'SQLite'}; load average before: {load}")
            results = bench(targets, merchant, args)
            journalled = httpx.get(on.url + "/emulator/v1/requests?limit=1", trust_env=False).json()["data"]
            print(f"journal-on stored entries up to id {journalled[0]['id'] if journalled else None}")
    return report(results)


if __name__ == "__main__":
    sys.exit(main())

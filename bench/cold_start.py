"""Cold start: seconds from process start to the first answered request, on an existing data dir.

    python bench/cold_start.py [--runs 5]

Measures ``python -m wxpay_emulator serve`` (SQLite, a data dir made by one earlier start, so no key is
generated) from ``Popen`` to the first 200 of ``/emulator/v1/health``, polling every 10 ms. The
baseline, measured in the same run, is the bare stack the emulator is built on: a FastAPI app with one
route, served by uvicorn the same way, plus the imports every emulator start needs (SQLAlchemy, Alembic,
cryptography, pydantic-settings). Prints each run, the medians and the ratio emulator / baseline.
Loopback only; every wait is bounded.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

DEADLINE = 60.0

BASELINE = """
import sys
import sqlalchemy, alembic.command, cryptography.x509, pydantic_settings  # what any start imports
import uvicorn
from fastapi import FastAPI

app = FastAPI()


@app.get("/emulator/v1/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def time_to_first_answer(cmd: list[str], port: int) -> float:
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with httpx.Client(trust_env=False, timeout=1) as client:
            while time.perf_counter() - started < DEADLINE:
                if proc.poll() is not None:
                    raise SystemExit(f"{cmd[:4]} exited with {proc.returncode}")
                try:
                    if client.get(f"http://127.0.0.1:{port}/emulator/v1/health").status_code == 200:
                        return time.perf_counter() - started
                except httpx.HTTPError:
                    pass
                time.sleep(0.01)
        raise SystemExit(f"no answer within {DEADLINE}s")
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        baseline_file = Path(tmp) / "baseline.py"
        baseline_file.write_text(BASELINE)

        def emulator(port: int) -> list[str]:
            serve = ["serve", "--port", str(port), "--data-dir", str(data_dir)]
            return [sys.executable, "-m", "wxpay_emulator", *serve]

        first = time_to_first_answer(emulator(port := free_port()), port)
        print(f"first start (keys generated, schema created): {first:.2f} s")
        emulator_runs: list[float] = []
        baseline_runs: list[float] = []
        for i in range(args.runs):
            port = free_port()
            baseline_runs.append(time_to_first_answer([sys.executable, str(baseline_file), str(port)], port))
            port = free_port()
            emulator_runs.append(time_to_first_answer(emulator(port), port))
            print(f"run {i + 1}: emulator {emulator_runs[-1]:.2f} s   baseline {baseline_runs[-1]:.2f} s")
    em, base = statistics.median(emulator_runs), statistics.median(baseline_runs)
    print(f"cold start, median of {args.runs}: emulator {em:.2f} s, baseline (FastAPI + uvicorn + imports) "
          f"{base:.2f} s, ratio {em / base:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()

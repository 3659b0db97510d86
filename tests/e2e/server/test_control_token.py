"""Issue 10 item 10 end to end (loopback only: the rule is forced on by setting the token, or by
WXPAY_EMULATOR_REQUIRE_TOKEN; the bind-address decision itself is unit-tested).

The CLI runs in process (tests/support/cli.py), with no WXPAY_EMULATOR_* variable but those given."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from tests.support.cli import CliRun, run_cli
from wxpay_emulator.testing import run_emulator

TOKEN = "e2e-control-token"


def cli(*args: str, env: dict[str, str] | None = None) -> CliRun:
    return run_cli(*args, env=env)


def test_the_cli_sends_the_token_and_is_refused_without_it(tmp_path: Path) -> None:
    with run_emulator(tmp_path, env={"WXPAY_EMULATOR_CONTROL_TOKEN": TOKEN}) as process:
        assert httpx.get(process.url + "/emulator/v1/orders", trust_env=False).status_code == 401
        refused = cli("orders", "--url", process.url)
        assert refused.returncode == 1 and "UNAUTHORIZED" in refused.stdout, refused.stdout + refused.stderr
        by_env = cli("orders", "--url", process.url, env={"WXPAY_EMULATOR_CONTROL_TOKEN": TOKEN})
        assert by_env.returncode == 0, by_env.stdout + by_env.stderr
        by_flag = cli("orders", "--url", process.url, "--token", TOKEN)
        assert by_flag.returncode == 0, by_flag.stdout + by_flag.stderr
        # the harness sends it too (testing.EmulatorProcess.http_options)
        assert process.create_merchant()["mchid"]


def test_a_required_token_is_generated_and_printed(tmp_path: Path) -> None:
    with run_emulator(tmp_path, env={"WXPAY_EMULATOR_REQUIRE_TOKEN": "1"}) as process:
        found = re.search(r"control token \(generated for this run\): (\S+)", process.log())
        assert found, process.log()
        token = found.group(1)
        url = process.url + "/emulator/v1/merchants"
        assert httpx.get(url, trust_env=False).status_code == 401
        assert (
            httpx.get(url, trust_env=False, headers={"Authorization": f"Bearer {token}"}).status_code == 200
        )
        # WeChat's paths are unaffected: APIv2 answers in XML, not 401
        v2 = httpx.post(process.url + "/pay/orderquery", content=b"<xml></xml>", trust_env=False)
        assert v2.status_code == 200 and "<return_code>" in v2.text

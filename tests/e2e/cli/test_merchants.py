"""``merchant create`` / ``merchant list`` run from another directory than ``serve``'s: with no data dir
given and no store in ./.wxpay-emulator they go to the running emulator's control plane, instead of
making a second, empty store that the running emulator (which ``pay`` and ``orders`` reach) never sees.
With no emulator answering, ``create`` makes the new store and says so, naming both places; ``list``
refuses. A data dir given keeps them on that store (tests/e2e/cli/test_checkout.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.cli import run_cli
from wxpay_emulator.testing import EmulatorProcess, free_port, run_emulator


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    with run_emulator(tmp_path_factory.mktemp("serve-dir")) as emulator:
        yield emulator


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Another directory than serve's, as the working directory of the command."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_create_from_another_directory_goes_to_the_running_emulator(
    emu: EmulatorProcess, elsewhere: Path
) -> None:
    made = run_cli("merchant", "create", "--key-mode", "cert", "--json", env={"WXPAY_EMULATOR_URL": emu.url})
    assert made.returncode == 0, made.stdout + made.stderr
    info = json.loads(made.stdout)
    assert f"created by the emulator at {emu.url}" in made.stderr
    folder = Path(info["files"]["apiclient_key.pem"]).parent
    assert folder == (emu.data_dir / "merchants" / info["mchid"]).resolve()
    assert str(folder) in made.stderr
    assert (folder / "certs" / f"{info['platform_serial']}.pem").exists()
    assert not (elsewhere / ".wxpay-emulator").exists(), "a second store was made"
    answer = httpx.get(f"{emu.url}/emulator/v1/merchants/{info['mchid']}", trust_env=False, timeout=30)
    assert answer.status_code == 200 and answer.json()["key_mode"] == "cert"
    table = run_cli("merchant", "create", "--mchid", info["mchid"], env={"WXPAY_EMULATOR_URL": emu.url})
    assert table.returncode == 1 and "MERCHANT_EXISTS" in table.stdout, table.stdout


def test_list_from_another_directory_shows_the_running_emulators_merchants(
    emu: EmulatorProcess, elsewhere: Path
) -> None:
    listed = run_cli("merchant", "list", env={"WXPAY_EMULATOR_URL": emu.url})
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert "1900000001" in listed.stdout and emu.url in listed.stderr
    as_json = run_cli("merchant", "list", "--json", env={"WXPAY_EMULATOR_URL": emu.url})
    assert "1900000001" in {m["mchid"] for m in json.loads(as_json.stdout)["data"]}
    assert not (elsewhere / ".wxpay-emulator").exists()


def test_with_no_emulator_create_says_it_made_a_new_store_and_list_refuses(elsewhere: Path) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    refused = run_cli("merchant", "list", env={"WXPAY_EMULATOR_URL": nobody})
    assert refused.returncode == 1 and nobody in refused.stdout, refused.stdout
    assert str(elsewhere.resolve() / ".wxpay-emulator") in refused.stdout
    assert not (elsewhere / ".wxpay-emulator").exists()
    made = run_cli("merchant", "create", "--mchid", "1234567", env={"WXPAY_EMULATOR_URL": nobody})
    assert made.returncode == 0, made.stdout + made.stderr
    store = elsewhere.resolve() / ".wxpay-emulator"
    assert (store / "merchants" / "1234567" / "merchant.json").exists()
    assert f"no emulator answered at {nobody}" in made.stderr and str(store) in made.stderr
    # the store now exists: the commands work on it, silently, as in serve's own directory
    listed = run_cli("merchant", "list", env={"WXPAY_EMULATOR_URL": nobody})
    assert listed.returncode == 0 and "1234567" in listed.stdout and listed.stderr == ""

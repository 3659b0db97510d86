"""Issue 10 items 7 and 8: secrets are not world-readable (data dir 0700, every file 0600, created so
from the start and narrowed when an older version left them wider), and a merchant number is validated
in one place, so neither the CLI nor the control plane can write key material outside the data dir."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from tests.support.keys import KeyPool
from wxpay_emulator.app import build_domain, create_app, open_store
from wxpay_emulator.cli import app as cli_app
from wxpay_emulator.config import Settings
from wxpay_emulator.domain.errors import DomainError
from wxpay_emulator.domain.models import KeyMode
from wxpay_emulator.ids import valid_mchid
from wxpay_emulator.tls import server_material


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(scope="module")
def key_pool_dir(tmp_path_factory: pytest.TempPathFactory, key_pool: KeyPool) -> Path:
    """Keys of the session's pool as files (``Settings.key_pool_dir``): an app made here draws its
    cloud provider's keys from them instead of generating three. The first test below makes its
    merchants with generated keys."""
    folder = tmp_path_factory.mktemp("key-pool")
    for i in range(6):
        (folder / f"{i}.pem").write_bytes(key_pool.private_key_pem())
    return folder


@pytest.fixture
def open_umask() -> Iterator[None]:
    """umask 0: any file not created with an explicit mode would come out 0666 / 0777."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def test_everything_the_emulator_writes_is_private_from_creation(tmp_path: Path, open_umask: None) -> None:
    data = tmp_path / "data"
    settings = Settings(data_dir=data)
    app = create_app(settings)  # creates the store and the cloud provider's material

    async def create() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            answer = await client.post("/emulator/v1/merchants", json={"key_mode": "cert"})
            assert answer.status_code == 201, answer.text

    asyncio.run(create())
    server_material(data)
    assert mode(data) == 0o700
    db = data / "emulator.db"
    for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        assert path.exists(), path
        assert mode(path) == 0o600, (path, oct(mode(path)))
    files = [p for p in (data / "merchants").rglob("*") if p.is_file()] + list((data / "tls").iterdir())
    names = {p.name for p in files}
    assert {"apiclient_key.pem", "merchant.json", "server.key"} <= names
    for path in files:
        assert mode(path) == 0o600, (path, oct(mode(path)))
    for path in [
        data / "merchants",
        data / "tls",
        *[p for p in (data / "merchants").rglob("*") if p.is_dir()],
    ]:
        assert mode(path) == 0o700, (path, oct(mode(path)))


def test_a_data_dir_left_wide_open_is_narrowed_at_start(tmp_path: Path, key_pool: KeyPool) -> None:
    data = tmp_path / "data"
    settings = Settings(data_dir=data)
    store = open_store(settings)
    try:
        build_domain(store, settings)
        from wxpay_emulator.material import write_material

        m = build_domain(store, settings, key_source=key_pool).merchants.create(None, None, KeyMode.PUBKEY)
        folder = write_material(data, m)
    finally:
        store.dispose()
    # as an older version left them
    os.chmod(data, 0o755)
    for path in (data / "emulator.db", folder / "merchant.json", folder / "apiclient_key.pem"):
        os.chmod(path, 0o644)
    os.chmod(folder, 0o755)
    open_store(settings).dispose()
    assert mode(data) == 0o700 and mode(folder) == 0o700
    for path in (data / "emulator.db", folder / "merchant.json", folder / "apiclient_key.pem"):
        assert mode(path) == 0o600, path


BAD_MCHIDS = [
    "../../x",
    "1234567/../../x",
    "/tmp/x1234567",
    "１２３４５６７",
    "1234567\n",
    "12345",
    "abc1234567",
]


@pytest.mark.parametrize("mchid", BAD_MCHIDS)
def test_the_cli_refuses_a_mchid_the_control_plane_refuses(
    tmp_path: Path, mchid: str, key_pool_dir: Path
) -> None:
    data = tmp_path / "a" / "b" / "data"
    result = CliRunner().invoke(cli_app, ["merchant", "create", "--mchid", mchid, "--data-dir", str(data)])
    assert result.exit_code == 1, result.output
    assert "mchid must be 6 to 32 digits" in result.output
    outside = [
        p for p in tmp_path.rglob("*") if data not in p.parents and p != data and p not in data.parents
    ]
    assert outside == [], outside
    assert not (data / "merchants").exists() or not any((data / "merchants").iterdir())

    async def control_plane() -> None:
        app = create_app(Settings(data_dir=data, key_pool_dir=key_pool_dir))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            answer = await client.post("/emulator/v1/merchants", json={"mchid": mchid})
            assert answer.status_code == 400, answer.text
            assert answer.json()["code"] == "PARAM_ERROR"

    asyncio.run(control_plane())
    assert not valid_mchid(mchid)


def test_the_domain_refuses_the_same_mchids(tmp_path: Path, key_pool: KeyPool) -> None:
    settings = Settings(data_dir=tmp_path)
    store = open_store(settings)
    try:
        merchants = build_domain(store, settings, key_source=key_pool).merchants
        for mchid in BAD_MCHIDS:
            with pytest.raises(DomainError):
                merchants.create(mchid)
        assert valid_mchid("1900000001") and merchants.create("1234567").mchid == "1234567"
    finally:
        store.dispose()


def test_the_cli_still_creates_a_good_merchant(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli_app, ["merchant", "create", "--mchid", "1234567", "--data-dir", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "merchants" / "1234567" / "merchant.json").exists()

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.keys import KeyPool
from wxpay_emulator.app import build_domain, open_store
from wxpay_emulator.config import Settings
from wxpay_emulator.domain.models import KeyMode, Merchant
from wxpay_emulator.domain.services import Domain
from wxpay_emulator.storage.db import Store

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


def _pg_available() -> str | None:
    try:
        import psycopg

        with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test", connect_timeout=3):
            return None
    except Exception as exc:
        return str(exc)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this session (dropped after). Fails in CI when unreachable."""
    reason = _pg_available()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL on 127.0.0.1:5432 is required in CI: {reason}")
        pytest.skip(f"PostgreSQL not reachable: {reason}")
    import psycopg

    name = f"wxpay_unit_{uuid.uuid4().hex[:10]}"
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=test", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=test", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``database`` is SQLite, and PostgreSQL too for tests marked ``both_databases``: the storage, unit
    of work and concurrency tests, and one lifecycle test per domain record, whose SQL differs by dialect.
    A domain rule that reads and writes through the same repositories is the same rule on either."""
    if "database" in metafunc.fixturenames:
        both = metafunc.definition.get_closest_marker("both_databases") is not None
        metafunc.parametrize("database", ["sqlite", "postgresql"] if both else ["sqlite"], indirect=True)


@pytest.fixture
def database(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def settings(database: str, request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if database == "postgresql":
        url: str = request.getfixturevalue("pg_url")
        return Settings(data_dir=tmp_path, database_url=url)
    return Settings(data_dir=tmp_path)


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    opened = open_store(settings)
    yield opened
    opened.dispose()


@pytest.fixture
def domain(store: Store, settings: Settings, key_pool: KeyPool) -> Iterator[Domain]:
    d = build_domain(store, settings, key_source=key_pool)
    d.reset()
    yield d
    d.reset()


@pytest.fixture
def merchant(domain: Domain) -> Merchant:
    """A fresh merchant per test (its keys come from the session's pool)."""
    return domain.merchants.create(None, None, KeyMode.PUBKEY, ("wx1111111111111111",))

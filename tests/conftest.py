"""Fixtures for every layer of the suite."""

from __future__ import annotations

import pytest

from tests.support.keys import KeyPool, session_pool


@pytest.fixture(scope="session")
def key_pool() -> KeyPool:
    """RSA keys generated once per session, for merchants made in process (tests/support/keys.py)."""
    return session_pool()

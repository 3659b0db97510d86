"""RSA keys generated once per test session.

Generating an RSA-2048 key costs about 75 ms of CPU and checking one on load about 60 ms more; a merchant
takes three. The suite makes hundreds of merchants, so merchant creation in tests draws its keys from
``KeyPool`` (the domain's ``KeySource`` injection point, crypto/keys.py): the pool generates a key the
first time its slot is reached and hands it out again on later rounds. Certificates are still made per
merchant (random serials), and mchids, appids, ``pub_key_id`` and API keys still come from ``Ids``, so
merchants stay distinct. ``tests/unit/domain/test_merchants.py`` keeps merchants made with real
generation.
"""

from __future__ import annotations

import threading

from wxpay_emulator.crypto.keys import generate_private_key_pem

# A merchant draws three keys in a row; with 16 slots the keys of any five merchants made one after the
# other are all different, so a test that signs with "another merchant's key" still sees a stranger's.
POOL_SIZE = 16


class KeyPool:
    """A ``KeySource`` that cycles through ``size`` keys, each generated on first use."""

    def __init__(self, size: int = POOL_SIZE) -> None:
        if size < 3:
            raise ValueError("a merchant needs three different keys")
        self._keys: list[bytes] = []
        self._size = size
        self._next = 0
        self._lock = threading.Lock()

    def private_key_pem(self) -> bytes:
        with self._lock:
            slot = self._next % self._size
            self._next += 1
            if slot == len(self._keys):
                self._keys.append(generate_private_key_pem())
            return self._keys[slot]

    @property
    def generated(self) -> int:
        return len(self._keys)


_SESSION_POOL = KeyPool()


def session_pool() -> KeyPool:
    """The pool shared by every fixture of this process (the ``key_pool`` fixture returns it)."""
    return _SESSION_POOL

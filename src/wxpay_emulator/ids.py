"""The only place that makes identifiers and nonces. Seed it (``Ids(random.Random(1))``) in tests."""

from __future__ import annotations

import datetime as dt
import random
import re
import secrets
import string
import uuid

from wxpay_emulator.clock import CHINA

# What a merchant number may be, wherever one is given (control plane, CLI, domain): 6 to 32 digits.
# It names the merchant's folder in the data dir, so nothing else (no "/", no "..") may pass.
MCHID_PATTERN = r"^[0-9]{6,32}$"


def valid_mchid(mchid: str) -> bool:
    return re.fullmatch(MCHID_PATTERN, mchid) is not None


_ALNUM = string.ascii_letters + string.digits
_UPPER_ALNUM = string.ascii_uppercase + string.digits


class Ids:
    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng: random.Random = rng or secrets.SystemRandom()

    def _digits(self, n: int) -> str:
        return self._chars(string.digits, n)

    def _chars(self, alphabet: str, n: int) -> str:
        # One draw of random bits for the whole string (SystemRandom reads urandom once per call).
        size = len(alphabet)
        value = self._rng.getrandbits(8 * (n + 8))  # extra bytes keep the modulo bias negligible
        out = []
        for _ in range(n):
            value, index = divmod(value, size)
            out.append(alphabet[index])
        return "".join(out)

    def transaction_id(self, now: dt.datetime) -> str:
        """28 digits, shaped like WeChat's: ``4200`` + 6 digits + yyyymmdd + 10 digits."""
        return "4200" + self._digits(6) + now.astimezone(CHINA).strftime("%Y%m%d") + self._digits(10)

    def refund_id(self, now: dt.datetime) -> str:
        """29 digits, shaped like WeChat's ``50000000382019052709732678859``: ``50`` + 8 digits +
        yyyymmdd + 11 digits."""
        return "50" + self._digits(8) + now.astimezone(CHINA).strftime("%Y%m%d") + self._digits(11)

    def prepay_id(self, now: dt.datetime) -> str:
        """``wx`` + yyyymmddHHMMSS + 20 hex characters, 36 in all, like seed 004's example."""
        return "wx" + now.astimezone(CHINA).strftime("%Y%m%d%H%M%S") + self._chars("0123456789abcdef", 20)

    def nonce(self, n: int = 32) -> str:
        return self._chars(_UPPER_ALNUM, n)

    def gcm_nonce(self) -> str:
        """The 12-character nonce of an AEAD_AES_256_GCM resource."""
        return self._chars(_ALNUM, 12)

    def notification_id(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def mchid(self) -> str:
        return "19" + self._digits(8)

    def appid(self) -> str:
        return "wx" + self._chars("0123456789abcdef", 16)

    def openid(self) -> str:
        return "o" + self._chars(_ALNUM + "-_", 27)

    def secret(self, n: int = 32) -> str:
        return self._chars(_ALNUM, n)

    def pub_key_id(self) -> str:
        return "PUB_KEY_ID_01" + self._digits(10) + self._digits(10) + self._digits(2)

    def bank_type(self) -> str:
        return self._rng.choice(["OTHERS", "CMB_DEBIT", "ICBC_DEBIT", "CCB_CREDIT", "CFT"])

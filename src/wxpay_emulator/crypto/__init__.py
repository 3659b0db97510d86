"""Cryptography for every family: bytes in, bytes out, and failures raise :class:`CryptoError`.

Nothing here imports from the rest of the project (DESIGN.md §1).
"""

from wxpay_emulator.crypto.errors import CryptoError

__all__ = ["CryptoError"]

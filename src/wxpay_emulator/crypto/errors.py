class CryptoError(Exception):
    """A signature, tag or key did not check out. Crypto never answers None for a failure."""

"""APIv2: the XML API (``/pay/...``, ``/secapi/...``) and its simulation prefixes."""

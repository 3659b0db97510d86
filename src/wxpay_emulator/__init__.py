"""wxpay-emulator: a local, stateful, signature-exact emulator of WeChat Pay."""

__version__ = "0.1.0"

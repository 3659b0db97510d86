"""Typed helpers shared by the test suite: one home instead of a copy per file.

- ``keys``: the session's pool of pre-generated RSA keys (merchant creation draws from it).
- ``domain``: orders placed and paid through the domain, provider/sub-merchant parties.
- ``emulator``, ``receiver``, ``v3``, ``sdk``: the end-to-end side (a real server process, a real
  notification receiver, hand-signed APIv3 requests, wechatpayv3 clients) and in-process ASGI clients.
"""

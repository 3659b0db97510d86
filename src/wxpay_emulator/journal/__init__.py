"""The request journal: what every inbound call of every family did, with its signature verdict.

- :mod:`.context`: the request-scoped note the verifiers write their verdict into (no I/O);
- :mod:`.sign_check`: the verdicts and diagnoses of APIv3 and APIv2 signatures;
- :mod:`.entries`: masking and bounding bodies, the WeChat code of an answer, the entry's JSON;
- :mod:`.writer`: the background batch writer (and the ``serve`` log line of each request);
- :mod:`.service`: the Python API (:class:`~.service.Journal`) the routes and the dashboard call;
- :mod:`.middleware`: the ASGI middleware that records each call after its response.
"""

"""The one JSON answer class of every JSON family (cloud, Mini Program, the control plane, framework
errors): compact, Chinese as text, and encodable whatever the input it echoes (``wire.dumps``)."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse as _StarletteJSONResponse

from wxpay_emulator.wire import dumps


class JSONResponse(_StarletteJSONResponse):
    def render(self, content: Any) -> bytes:
        return dumps(content).encode("utf-8")

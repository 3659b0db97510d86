"""The "signed echo" baseline for bench/create_orders.py: the emulator's stack minus domain and store.

One process, FastAPI + uvicorn started exactly as ``wxpay-emulator serve`` starts them
(``uvicorn.run(app, host=..., port=..., log_level="warning")``). Every APIv3 POST is authenticated with
the same functions the emulator uses (parse the ``Authorization`` header, rebuild the signed string over
the raw body, RSA-SHA256 verify against the merchant's certificate) and answered with a fixed JSON body
carrying ``Wechatpay-*`` headers signed by a fresh RSA-2048 key, as the emulator's platform key does.

    python bench/echo_app.py --port 8700 --cert apiclient_cert.pem --serial 1A2B... --pubkey-out echo.pem
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import uvicorn
from fastapi import FastAPI, Request, Response

from wxpay_emulator.clock import Clock
from wxpay_emulator.crypto import CryptoError, keys, rsa_sign
from wxpay_emulator.ids import Ids

ECHO_SERIAL = "PUB_KEY_ID_0000000000000000000000000000ECHO"


def create_app(cert_pem: bytes, merchant_serial: str, key_pem: bytes, max_skew: int = 300) -> FastAPI:
    app = FastAPI(title="signed-echo", docs_url=None, redoc_url=None, openapi_url=None)
    ids = Ids()
    body = json.dumps({"prepay_id": "wx201410272009395522657a690389285100"}, separators=(",", ":")).encode()

    def sign_error(message: str) -> Response:
        payload = {"code": "SIGN_ERROR", "message": message}
        return Response(json.dumps(payload).encode(), status_code=401, media_type="application/json")

    @app.get("/emulator/v1/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v3/pay/transactions/{kind}")
    async def echo(kind: str, request: Request) -> Response:
        header = request.headers.get("authorization")
        if not header:
            return sign_error("missing Authorization")
        try:
            fields = rsa_sign.parse_authorization(header)
        except CryptoError as exc:
            return sign_error(str(exc))
        if not keys.serials_equal(fields["serial_no"], merchant_serial):
            return sign_error("serial_no")
        if abs(Clock.real_timestamp() - int(fields["timestamp"])) > max_skew:
            return sign_error("timestamp")
        raw = await request.body()
        path = request.scope["raw_path"].decode("latin-1")
        message = rsa_sign.request_message(
            request.method, path, fields["timestamp"], fields["nonce_str"], raw
        )
        try:
            rsa_sign.verify(cert_pem, message, fields["signature"])
        except CryptoError as exc:
            return sign_error(str(exc))
        headers = rsa_sign.signature_headers(
            ECHO_SERIAL, key_pem, body, str(Clock.real_timestamp()), ids.nonce()
        )
        headers["Request-ID"] = ids.notification_id()
        return Response(content=body, status_code=200, headers=headers, media_type="application/json")

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cert", type=Path, required=True, help="the merchant's apiclient_cert.pem")
    parser.add_argument("--serial", required=True, help="the merchant's certificate serial_no")
    parser.add_argument("--pubkey-out", type=Path, help="write the response-signing public key here")
    args = parser.parse_args()
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("the echo server listens on loopback only")
    key_pem = keys.generate_private_key_pem()
    if args.pubkey_out is not None:
        args.pubkey_out.write_bytes(keys.public_key_pem(key_pem))
    app = create_app(args.cert.read_bytes(), args.serial, key_pem)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()

"""wechatpayv3 clients pointed at an emulator."""

from collections.abc import Callable
from typing import Any

from wechatpayv3 import WeChatPay, WeChatPayType
from wechatpayv3.core import Core

MakeWxpay = Callable[..., WeChatPay]


def build_wxpay(
    base_url: str,
    merchant: dict[str, Any],
    notify_url: str,
    *,
    bootstrap: bool = False,
) -> WeChatPay:
    """wechatpayv3 pointed at the emulator, in the merchant's key mode (DESIGN.md §3).

    pubkey: public_key + public_key_id. cert: cert_dir holding the platform certificate. cert with
    ``bootstrap``: no cert_dir, so the constructor downloads /v3/certificates; Core._init_certificates is
    wrapped for the duration of the constructor so that the download goes to the emulator.
    """
    common: dict[str, Any] = {
        "wechatpay_type": WeChatPayType.MINIPROG,
        "mchid": merchant["mchid"],
        "private_key": merchant["apiclient_key.pem"],
        "cert_serial_no": merchant["serial_no"],
        "apiv3_key": merchant["apiv3_key"],
        "appid": merchant["appid"],
        "notify_url": notify_url,
        "timeout": (5, 30),
    }
    if merchant["key_mode"] == "pubkey":
        client = WeChatPay(**common, public_key=merchant["pub_key.pem"], public_key_id=merchant["pub_key_id"])
    elif not bootstrap:
        client = WeChatPay(**common, cert_dir=merchant["folder"] + "/certs/")
    else:
        original = Core._init_certificates

        def init_certificates(core: Core) -> None:
            core._gate_way = base_url
            original(core)

        Core._init_certificates = init_certificates  # type: ignore[method-assign]
        try:
            client = WeChatPay(**common)
        finally:
            Core._init_certificates = original  # type: ignore[method-assign]
    client._core._gate_way = base_url
    return client

"""A merchant's files in ``DATA_DIR/merchants/<mchid>/``: what a merchant pastes into its SDK config."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from wxpay_emulator.domain.models import Merchant
from wxpay_emulator.filemodes import private_dir, write_private
from wxpay_emulator.ids import valid_mchid

FILES = {
    "apiclient_key.pem": "merchant_key_pem",
    "apiclient_cert.pem": "merchant_cert_pem",
    "wechatpay_cert.pem": "platform_cert_pem",
    "pub_key.pem": "pubkey_pem",
}


def merchant_json(m: Merchant, folder: Path | None = None) -> dict[str, Any]:
    info: dict[str, Any] = {
        "mchid": m.mchid,
        "appid": m.appid,
        "appids": [m.appid, *m.appids],
        "serial_no": m.serial_no,
        "apiv3_key": m.apiv3_key,
        "api_key": m.api_key,
        "platform_serial": m.platform_serial,
        "pub_key_id": m.pub_key_id,
        "key_mode": m.key_mode.value,
        "sp_mchid": m.sp_mchid,
    }
    if folder is not None:
        info["files"] = {name: str((folder / name).resolve()) for name in FILES}
    return info


def write_material(data_dir: Path, m: Merchant) -> Path:
    """Write the merchant's files: the folder 0700, every file 0600 from its creation (filemodes.py)."""
    if not valid_mchid(m.mchid):  # the mchid names the folder: never a path outside the data dir
        raise ValueError(f"not a merchant number: {m.mchid!r}")
    private_dir(data_dir)
    folder = private_dir(data_dir / "merchants" / m.mchid)
    for name, attr in FILES.items():
        path = folder / name
        content: bytes = getattr(m, attr)
        if not path.exists() or path.read_bytes() != content:
            write_private(path, content)
    # wechatpayv3's cert_dir: the platform certificate under its serial, so certificate mode needs no
    # download from the real host before the gateway can be pointed here.
    certs = private_dir(folder / "certs")
    write_private(certs / f"{m.platform_serial}.pem", m.platform_cert_pem)
    info = json.dumps(merchant_json(m, folder), ensure_ascii=False, indent=2) + "\n"
    write_private(folder / "merchant.json", info.encode("utf-8"))
    return folder


def wechatpayv3_snippet(m: Merchant, folder: Path, base_url: str) -> str:
    """Paste-ready Python for the wechatpayv3 SDK pointed at this emulator."""
    if m.key_mode.value == "pubkey":
        extra = (
            f"    public_key=open('{folder / 'pub_key.pem'}').read(),\n    public_key_id='{m.pub_key_id}',\n"
        )
    else:
        extra = f"    cert_dir='{folder / 'certs'}/',  # holds the platform certificate (see README)\n"
    return (
        "from wechatpayv3 import WeChatPay, WeChatPayType\n"
        "wxpay = WeChatPay(\n"
        "    wechatpay_type=WeChatPayType.MINIPROG,\n"
        f"    mchid='{m.mchid}',\n"
        f"    private_key=open('{folder / 'apiclient_key.pem'}').read(),\n"
        f"    cert_serial_no='{m.serial_no}',\n"
        f"    apiv3_key='{m.apiv3_key}',\n"
        f"    appid='{m.appid}',\n"
        f"    notify_url='http://127.0.0.1:9000/notify',\n"
        f"{extra}"
        ")\n"
        f"wxpay._core._gate_way = '{base_url}'\n"
    )

"""The example shop served by uvicorn in a thread on a free 127.0.0.1 port (for its tests)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn
from shop import Orders, WeChatPayConfig, create_app

from wxpay_emulator.client import EmulatedMerchant


@dataclass
class RunningShop:
    url: str
    orders: Orders
    merchant: EmulatedMerchant

    @property
    def notify_url(self) -> str:
        return self.url + "/wxpay/notify"

    @property
    def naive_notify_url(self) -> str:
        return self.url + "/naive/notify"


@contextmanager
def serve_shop(merchant: EmulatedMerchant) -> Iterator[RunningShop]:
    config = WeChatPayConfig(
        mchid=merchant.mchid,
        apiv3_key=merchant.apiv3_key,
        wechatpay_serial=merchant.wechatpay_serial,
        wechatpay_public_pem=merchant.wechatpay_public_pem,
    )
    orders = Orders()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(config, orders), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(500):  # at most 5 s
        if server.started:
            break
        time.sleep(0.01)
    try:
        assert server.started, "the shop did not start"
        yield RunningShop(f"http://127.0.0.1:{sock.getsockname()[1]}", orders, merchant)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()

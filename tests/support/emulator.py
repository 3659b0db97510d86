"""A running emulator process and its control plane (``/emulator/v1``)."""

from collections.abc import Callable
from typing import Any

import httpx

from tests.support.common import poll
from wxpay_emulator.testing import EmulatorProcess


class Emu:
    """A running emulator and its control plane (``/emulator/v1``)."""

    def __init__(self, process: EmulatorProcess, http: httpx.Client) -> None:
        self.process = process
        self.http = http

    @property
    def url(self) -> str:
        return self.process.url

    def control(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, self.url + "/emulator/v1" + path, **kwargs)

    def pay(self, result: str = "SUCCESS", **ident: str) -> httpx.Response:
        return self.control("POST", "/payments", json={**ident, "result": result})

    def orders(self, mchid: str | None = None) -> list[dict[str, Any]]:
        response = self.control("GET", "/orders", params={"mchid": mchid} if mchid else None)
        assert response.status_code == 200, response.text
        data: list[dict[str, Any]] = response.json()["data"]
        return data

    def orders_with(self, out_trade_no: str) -> list[dict[str, Any]]:
        return [o for o in self.orders() if o["transaction"]["out_trade_no"] == out_trade_no]

    def notifications(self) -> list[dict[str, Any]]:
        response = self.control("GET", "/notifications")
        assert response.status_code == 200, response.text
        data: list[dict[str, Any]] = response.json()["data"]
        return data

    def notification(self, notification_id: str) -> dict[str, Any] | None:
        return next((n for n in self.notifications() if n["id"] == notification_id), None)

    def wait_notification(
        self, notification_id: str, until: Callable[[dict[str, Any]], bool], what: str
    ) -> dict[str, Any]:
        found = poll(
            lambda: self.notification(notification_id),
            lambda n: n is not None and until(n),
            f"notification {notification_id}: {what}",
        )
        assert found is not None
        return found

    def reset(self) -> None:
        """Orders, refunds, notifications and the clock (``/reset``), and every armed fault: a module's
        emulator may be shared with modules before it (tests/e2e/conftest.py)."""
        response = self.control("POST", "/reset")
        assert response.status_code == 200, response.text
        cleared = self.control("DELETE", "/faults")
        assert cleared.status_code in (200, 204), cleared.text

"""The control plane's cursor pages (api/emulator/pagination.py): orders, refunds and notifications read
page by page give every row once, newest first, and a cursor from another list is refused."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.support.emulator import Emu
from tests.support.inproc import InProcEmulator
from tests.support.v3 import V3Api
from wxpay_emulator.api.emulator import pagination

ROWS = 5


def refunds_no(i: int) -> str:
    return f"RPAGE{i}"


def walk(http: httpx.Client, url: str, limit: int) -> list[dict[str, Any]]:
    """Every row of a list, read ``limit`` at a time by following ``next``; bounded in pages."""
    rows: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": limit}
    for _ in range(ROWS + 2):
        page = http.get(url, params=params)
        assert page.status_code == 200, page.text
        answer = page.json()
        assert len(answer["data"]) <= limit
        rows += answer["data"]
        if answer["next"] is None:
            return rows
        params["cursor"] = answer["next"]
    raise AssertionError(f"{url} did not end within {ROWS + 2} pages")


@pytest.fixture(scope="module")
def filled(inproc: InProcEmulator, merchants: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """ROWS paid orders of one merchant, each refunded once (a refund without notify_url notifies nobody)."""
    merchant = merchants["pubkey"]
    api = V3Api(inproc.url, merchant, inproc.http)
    emu = Emu(inproc, inproc.http)  # type: ignore[arg-type]
    emu.reset()
    trades, refunds = [], []
    for i in range(ROWS):
        trade = f"PAGE{i:04d}"
        placed = api.request(
            "POST", "/v3/pay/transactions/native", api.prepay_body(trade, "http://127.0.0.1:9/n")
        )
        assert placed.status_code == 200, placed.text
        assert emu.pay(mchid=merchant["mchid"], out_trade_no=trade).status_code == 200
        refund = inproc.http.post(
            inproc.url + "/emulator/v1/refunds",
            json={
                "mchid": merchant["mchid"],
                "out_trade_no": trade,
                "amount": 1,
                "out_refund_no": f"RPAGE{i}",
            },
        )
        assert refund.status_code == 200, refund.text
        trades.append(trade)
        refunds.append(refunds_no(i))
    return {"trades": trades, "refunds": refunds}


@pytest.mark.parametrize("limit", [1, 2, ROWS, ROWS + 1])
def test_orders_refunds_and_notifications_page_through_every_row_once(
    inproc: InProcEmulator, filled: dict[str, list[str]], limit: int
) -> None:
    base = inproc.url + "/emulator/v1"
    orders = [o["transaction"]["out_trade_no"] for o in walk(inproc.http, base + "/orders", limit)]
    assert orders == filled["trades"][::-1]
    refunds = [r["refund"]["out_refund_no"] for r in walk(inproc.http, base + "/refunds", limit)]
    assert refunds == filled["refunds"][::-1]
    notifications = walk(inproc.http, base + "/notifications", limit)
    assert len({n["id"] for n in notifications}) == len(notifications) == ROWS  # one per payment
    created = [n["created_at"] for n in notifications]
    assert created == sorted(created, reverse=True)


def test_a_cursor_of_another_list_is_a_param_error(
    inproc: InProcEmulator, filled: dict[str, list[str]]
) -> None:
    base = inproc.url + "/emulator/v1"
    order_cursor = inproc.http.get(base + "/orders", params={"limit": 1}).json()["next"]
    refused = inproc.http.get(base + "/notifications", params={"cursor": order_cursor})
    assert refused.status_code == 400, refused.text


@pytest.mark.parametrize(
    ("found", "limit", "expected"),
    [([], 2, ([], None)), ([1, 2], 2, ([1, 2], None)), ([1, 2, 3], 2, ([1, 2], pagination.encode(2)))],
)
def test_split_names_the_last_row_only_when_there_is_more(
    found: list[int], limit: int, expected: tuple[list[int], str | None]
) -> None:
    key: Callable[[int], int] = lambda row: row  # noqa: E731
    page, cursor = pagination.split(found, limit, key)
    assert (list(page), cursor) == expected

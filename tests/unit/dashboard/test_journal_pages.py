"""The request journal's dashboard pages in process: the list with its filters and cursor paging, an
entry's signature diagnosis (the verified string verbatim), the overview's newest requests and the
journal entry that created an order."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator

import pytest

from tests.unit.journal.test_journal import APPID, MCHID, Harness, make_harness


@pytest.fixture(scope="module")
def module_emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    yield from make_harness(tmp_path_factory.mktemp("dashboard-journal"))


@pytest.fixture
def emu(module_emu: Harness) -> Harness:
    assert module_emu.request("POST", "/emulator/v1/reset").status_code == 200
    return module_emu


def bad_signature(emu: Harness) -> tuple[int, str]:
    """A v3 call signed over another body: (its journal id, the message the emulator verified)."""
    body = b'{"mchid":"1900000001"}'
    path = "/v3/pay/transactions/out-trade-no/DASHJRN1/close"
    response, expected = emu.v3("POST", path, body, signed_body=b'{"mchid":"1900000009"}')
    assert response.status_code == 401
    return int(emu.newest()["id"]), expected


def test_a_failed_signature_in_the_list_and_on_its_page(emu: Harness) -> None:
    entry_id, expected = bad_signature(emu)
    page = emu.request("GET", "/dashboard/requests")
    assert page.status_code == 200 and 'data-live="requests"' in page.text
    assert f'href="/dashboard/requests/{entry_id}"' in page.text
    assert "signature does not verify" in page.text and "SIGN_ERROR" in page.text
    entry = emu.request("GET", f"/dashboard/requests/{entry_id}")
    assert entry.status_code == 200
    shown = re.search(r'<pre class="code" id="expected-message">(.*?)</pre>', entry.text, re.S)
    assert shown is not None and html.unescape(shown.group(1)) == expected
    assert re.search(r'id="sign-reason">signature does not verify<', entry.text)
    assert re.search(r'id="entry-status">401<', entry.text) and re.search(
        r'id="entry-code">SIGN_ERROR<', entry.text
    )
    body = re.search(r'id="request-body">(.*?)</pre>', entry.text, re.S)
    assert body is not None and html.unescape(body.group(1)) == '{"mchid":"1900000001"}'
    row = emu.request("GET", f"/dashboard/requests/{entry_id}/row")
    assert row.status_code == 200 and row.text.strip().startswith(f'<tr data-id="{entry_id}"')
    assert emu.request("GET", "/dashboard/requests/999999").status_code == 404
    assert "Newest requests" in emu.request("GET", "/").text


def test_filters_and_paging(emu: Harness) -> None:
    ids = [bad_signature(emu)[0] for _ in range(3)]
    v2_only = emu.request("GET", "/dashboard/requests", params={"family": "v2"})
    assert v2_only.status_code == 200 and "No requests." in v2_only.text
    mine = emu.request("GET", "/dashboard/requests", params={"mchid": MCHID, "status": "4xx"})
    assert all(f'href="/dashboard/requests/{i}"' in mine.text for i in ids)
    other = emu.request("GET", "/dashboard/requests", params={"mchid": "1900000002"})
    assert "No requests." in other.text
    bad = emu.request("GET", "/dashboard/requests", params={"status": "abc"})
    assert bad.status_code == 400 and 'id="requests-problem"' in bad.text
    # cursor paging through the control plane's cursor (PAGE entries a page)
    from wxpay_emulator.dashboard import journal_pages

    original = journal_pages.PAGE
    journal_pages.PAGE = 2
    try:
        first = emu.request("GET", "/dashboard/requests")
        older = re.search(r'href="(/dashboard/requests\?cursor=\d+)" id="older"', first.text)
        assert older is not None
        second = emu.request("GET", html.unescape(older.group(1)))
        assert f'href="/dashboard/requests/{ids[0]}"' in second.text
        assert f'href="/dashboard/requests/{ids[2]}"' not in second.text
        assert 'data-live="requests"' not in second.text  # only the newest page takes live rows
    finally:
        journal_pages.PAGE = original


def test_the_order_page_links_the_request_that_created_it(emu: Harness) -> None:
    out_trade_no = "DASHJRNORDER1"
    body = json.dumps(
        {
            "appid": APPID,
            "mchid": MCHID,
            "description": "journal",
            "out_trade_no": out_trade_no,
            "notify_url": "https://127.0.0.1:9/notify",
            "amount": {"total": 1},
            "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
        }
    ).encode()
    response, _ = emu.v3("POST", "/v3/pay/transactions/jsapi", body)
    assert response.status_code == 200, response.text
    created = emu.newest()["id"]
    emu.v3("GET", f"/v3/pay/transactions/out-trade-no/{out_trade_no}?mchid={MCHID}")
    listing = emu.request("GET", "/dashboard/orders", params={"q": out_trade_no})
    order = re.search(r'href="/dashboard/orders/(\d+)"', listing.text)
    assert order is not None
    page = emu.request("GET", f"/dashboard/orders/{order.group(1)}")
    assert f'<a href="/dashboard/requests/{created}">journal entry {created}</a>' in page.text


def test_pages_subscribe_to_the_event_stream(emu: Harness) -> None:
    newest = bad_signature(emu)[0]
    page = emu.request("GET", "/dashboard/requests")
    assert 'data-events-url="/emulator/v1/events"' in page.text
    # the stream starts at the cursor the listing ends at (dashboard.js adds it as ?after=)
    assert re.search(rf'data-live="requests" data-after="{newest}:\d+"', page.text)
    overview = emu.request("GET", "/")
    assert 'data-live="requests"' in overview.text  # the overview's newest requests are live too
    assert emu.request("GET", "/dashboard/notifications/NOPE/attempts").status_code == 404

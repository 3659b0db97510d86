"""The dashboard's pages and the API reference in process (httpx's ASGI transport): what they show of
real domain records, and how they answer bad input. The browser tests (tests/e2e/test_browser_*) drive
the same pages in Chromium against the real server."""

from __future__ import annotations

import asyncio
import html
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI

from wxpay_emulator.app import create_app
from wxpay_emulator.config import Settings
from wxpay_emulator.dashboard.decode import decode
from wxpay_emulator.domain.models import (
    KeyMode,
    Merchant,
    OrderDraft,
    PaymentResult,
    RefundDraft,
    RefundStatus,
)
from wxpay_emulator.domain.services import Domain
from wxpay_emulator.registry import tag_titles

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def app(tmp_path: Path) -> Iterator[FastAPI]:
    application = create_app(Settings(data_dir=tmp_path, refund_delay_seconds=3600))
    try:
        yield application
    finally:
        application.state.store.dispose()


@pytest.fixture
def domain(app: FastAPI) -> Domain:
    d: Domain = app.state.domain
    return d


@pytest.fixture
def merchant(domain: Domain) -> Merchant:
    return domain.merchants.create("1900000109", "wxd678efh567hg6787", KeyMode.PUBKEY, (), None)


def get(app: FastAPI, path: str, client: tuple[str, int] = ("127.0.0.1", 50000), **kw: Any) -> httpx.Response:
    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=client)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8600") as c:
            return await c.request(kw.pop("method", "GET"), path, **kw)

    return asyncio.run(run())


def post(app: FastAPI, path: str, data: dict[str, str] | None = None) -> httpx.Response:
    return get(app, path, method="POST", data=data or {})


def place(domain: Domain, m: Merchant, out_trade_no: str, family: str = "v3", total: int = 100) -> int:
    draft = OrderDraft(
        mchid=m.mchid,
        appid=m.appid,
        out_trade_no=out_trade_no,
        trade_type="NATIVE",
        description="dashboard",
        total=total,
        currency="CNY",
        notify_url="http://127.0.0.1:9/notify",
        family=family,
    )
    return domain.orders.place(draft).id


def test_decode_shows_each_familys_notification_as_the_merchant_reads_it(
    domain: Domain, merchant: Merchant
) -> None:
    place(domain, merchant, "DECODEV3001")
    domain.orders.pay(result=PaymentResult.SUCCESS, mchid=merchant.mchid, out_trade_no="DECODEV3001")
    place(domain, merchant, "DECODEV2001", family="v2")
    paid = domain.orders.pay(result=PaymentResult.SUCCESS, mchid=merchant.mchid, out_trade_no="DECODEV2001")
    draft = RefundDraft(
        mchid=merchant.mchid, out_refund_no="RFDECODE01", refund=40, total=100, currency="CNY", family="v2",
        out_trade_no="DECODEV2001", notify_url="http://127.0.0.1:9/refund",
    )  # fmt: skip
    domain.refunds.create(draft)
    domain.refunds.finish(merchant.mchid, "RFDECODE01", RefundStatus.SUCCESS)
    by_kind = {n.family: n for n, _ in domain.notifications.list()}

    v3 = decode(by_kind["v3"].body, merchant)
    assert v3.error is None and "APIv3 key" in v3.how
    assert json.loads(v3.plain)["out_trade_no"] == "DECODEV3001"
    v2 = decode(by_kind["v2"].body, merchant)
    assert v2.error is None and json.loads(v2.plain)["transaction_id"] == paid.transaction_id
    refund = decode(by_kind["v2refund"].body, merchant)
    assert refund.error is None and "req_info decrypted" in refund.how
    inner = json.loads(refund.plain)["req_info (decrypted)"]
    assert inner["out_refund_no"] == "RFDECODE01" and inner["refund_status"] == "SUCCESS"

    # the wrong key, a body that is no notification at all: said, not raised
    other = domain.merchants.create("1900000110", "wxd678efh567hg6787", KeyMode.PUBKEY, (), None)
    assert decode(by_kind["v3"].body, other).error == "ciphertext does not decrypt"
    assert "does not decrypt" in (decode(by_kind["v2refund"].body, other).error or "")
    assert decode(by_kind["v3"].body, None).error is not None
    assert decode('{"errcode": 0}', merchant).how.startswith("plaintext JSON")
    assert decode("<xml><a>", merchant).error is not None
    assert decode("<!DOCTYPE x [<!ENTITY a 'b'>]><xml><a>&a;</a></xml>", merchant).error is not None


def test_pages_render_real_records(app: FastAPI, domain: Domain, merchant: Merchant) -> None:
    order_id = place(domain, merchant, "PAGES00001")
    assert post(app, f"/dashboard/orders/{order_id}/pay", {"result": "SUCCESS"}).status_code == 303
    note = domain.notifications.list()[0][0]
    pages = {
        "/": "PAGES00001",
        "/dashboard/orders?state=SUCCESS&family=v3&mchid=1900000109": "PAGES00001",
        f"/dashboard/orders/{order_id}": "transaction_id",
        "/dashboard/notifications": note.id,
        f"/dashboard/notifications/{note.id}": "PAGES00001",  # only in the decrypted resource
        "/dashboard/refunds": "No refunds.",
        "/dashboard/merchants": "1900000109",
        "/dashboard/merchants/1900000109": "PUB_KEY_ID_",
        "/dashboard/system": "pay.query",
        "/emulator/docs": "/pay/unifiedorder",
    }
    for path, text in pages.items():
        page = get(app, path)
        assert page.status_code == 200, (path, page.text[:300])
        assert text in page.text, path
        assert page.headers["content-type"].startswith("text/html")
        # offline: every asset is the emulator's own
        for url in re.findall(r'(?:src|href)="([^"]+)"', page.text):
            assert not url.startswith(("http://", "https://", "//")), (path, url)
    assert "PAGES00001" not in get(app, "/dashboard/orders?state=NOTPAY").text
    assert "PAGES00001" not in get(app, "/dashboard/orders?q=OTHER").text
    assert get(app, "/dashboard/static/dashboard.css").headers["content-type"].startswith("text/css")
    assert "EventSource" in get(app, "/dashboard/static/dashboard.js").text


def test_bad_input_answers_a_page_or_a_redirect_never_a_500(
    app: FastAPI, domain: Domain, merchant: Merchant
) -> None:
    order_id = place(domain, merchant, "BADINPUT01")
    refused = {
        "/dashboard/orders/999999": 404,
        "/dashboard/orders/abc": 400,
        "/dashboard/notifications/nope": 404,
        "/dashboard/merchants/0": 404,
        "/dashboard/merchants/1900000109/files/../../etc/passwd": 404,
        "/dashboard/static/../app.py": 404,
        "/dashboard/static/app.py": 404,
        "/dashboard/nothing-here": 404,
    }
    for path, status in refused.items():
        page = get(app, path)
        # the dashboard's own error page, in its frame
        assert page.status_code == status, (path, page.text[:200])
        assert page.headers["content-type"].startswith("text/html") and 'id="page-error"' in page.text, path
    cases = [
        (f"/dashboard/orders/{order_id}/pay", {"result": "BOGUS"}, "error="),
        (f"/dashboard/orders/{order_id}/refund", {"amount": "x"}, "error="),
        (f"/dashboard/orders/{order_id}/refund", {"amount": "50"}, "error="),  # not paid
        ("/dashboard/refunds/1/settle", {"status": "PROCESSING"}, "error="),
        ("/dashboard/refunds/1/settle", {"status": "SUCCESS", "mchid": "1", "out_refund_no": "n"}, "error="),
        ("/dashboard/clock", {"seconds": "-5"}, "error="),
        ("/dashboard/clock", {"seconds": "soon"}, "error="),
        ("/dashboard/faults", {"operation": "nope", "code": "SYSTEM_ERROR"}, "error="),
        ("/dashboard/faults", {"operation": "pay.query", "code": "SYSTEM_ERROR", "count": "0"}, "error="),
        ("/dashboard/reset", {"confirm": "yes"}, "error="),
        ("/dashboard/notifications/nope/redeliver", {}, "error="),
    ]
    for path, form, expected in cases:
        answer = post(app, path, form)
        assert answer.status_code == 303 and expected in answer.headers["location"], (path, form, answer.text)
    assert post(app, "/dashboard/orders/999999/close").status_code == 404
    # the order was not touched by any of it
    assert domain.orders.get(order_id).state.value == "NOTPAY"


def test_material_downloads_are_for_loopback_clients_only(app: FastAPI, merchant: Merchant) -> None:
    path = "/dashboard/merchants/1900000109/files/apiclient_key.pem"
    local = get(app, path)
    assert local.status_code == 200 and local.content == merchant.merchant_key_pem
    assert 'filename="1900000109_apiclient_key.pem"' in local.headers["content-disposition"]
    assert get(app, path, client=("192.0.2.7", 50000)).status_code == 403
    page = get(app, "/dashboard/merchants/1900000109", client=("192.0.2.7", 50000))
    assert page.status_code == 200 and "apiclient_key.pem</a>" not in page.text


def test_checkout_redirect_url_is_followed_only_when_http(
    app: FastAPI, domain: Domain, merchant: Merchant
) -> None:
    place(domain, merchant, "CHECKOUT01")
    prepay_id = domain.orders.get(1).prepay_id
    assert prepay_id is not None
    form = {"prepay_id": prepay_id, "result": "SUCCESS", "redirect_url": "javascript:alert(1)"}
    answer = post(app, "/emulator/v1/checkout", form)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/emulator/v1/checkout?")
    place(domain, merchant, "CHECKOUT02")
    prepay_id = domain.orders.get(2).prepay_id
    assert prepay_id is not None
    form = {"prepay_id": prepay_id, "result": "SUCCESS", "redirect_url": "https://shop.example/done?x=1"}
    answer = post(app, "/emulator/v1/checkout", form)
    assert answer.status_code == 303 and answer.headers["location"] == "https://shop.example/done?x=1"
    assert post(app, "/emulator/v1/checkout", {"prepay_id": "wx0"}).status_code == 404


def test_openapi_tags_every_family(app: FastAPI) -> None:
    spec = get(app, "/emulator/openapi.json").json()
    tags_of: dict[str, set[str]] = {}
    for path, item in spec["paths"].items():
        for op in item.values():
            for tag in op.get("tags", []):
                tags_of.setdefault(tag, set()).add(path)
    assert "/pay/unifiedorder" in tags_of["v2"]
    assert "/sandboxnew/pay/orderquery" in tags_of["v2"]
    assert "/secapi/pay/refund" in tags_of["v2"]
    # Cloud hosting's operations are cloud.*, CloudPay's cloudpay.* (each can be armed on its own).
    assert {"/_/pay/unifiedorder", "/_/pay/refund"} <= tags_of["cloud"]
    assert {"/_/cloudpay/unifiedOrder", "/_/cloudpay/refund"} <= tags_of["cloudpay"]
    assert "/v3/refund/domestic/refunds" in tags_of["refund"]
    assert "/v3/pay/partner/transactions/{kind}" in tags_of["partner"]
    assert "/v3/combine-transactions/{kind}" in tags_of["combine"]
    assert "/cgi-bin/token" in tags_of["mp"]
    assert "/emulator/v1/payments" in spec["paths"]
    # only POST is documented for APIv2; the other methods still answer REQUIRE_POST_METHOD
    assert set(spec["paths"]["/pay/unifiedorder"]) == {"post"}
    assert not any(p.startswith("/dashboard") or p == "/" for p in spec["paths"])


def test_the_api_reference_titles_every_group_in_registry_order(app: FastAPI) -> None:
    page = get(app, "/emulator/docs").text
    shown = re.findall(r'<section class="tag" id="tag-\d+" data-tag="([^"]+)">\s*<h2>([^<]+)<small', page)
    titles = tag_titles()
    assert [tag for tag, _ in shown] == [tag for tag in titles if tag in dict(shown)], shown
    assert {"pay", "v2", "cloud", "cloudpay", "mp", "emulator"} <= {tag for tag, _ in shown}
    for tag, heading in shown:
        assert html.unescape(heading.strip()) == titles[tag], (tag, heading)


def test_the_merchant_page_gives_absolute_paths_and_names_the_sdk_guide(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Snippets pasted into code run from another directory than serve's still find the material; the
    guide they point to exists; a public key mode merchant's wechatpay-node-v3 snippet registers its
    public key under its PUB_KEY_ID, so that verifySign finds it."""
    monkeypatch.chdir(tmp_path)
    relative = create_app(Settings(data_dir=Path(".wxpay-emulator")))
    try:
        domain: Domain = relative.state.domain
        made = domain.merchants.create("1900000109", "wxd678efh567hg6787", KeyMode.PUBKEY, (), None)
        domain.merchants.create("1900000110", "wxd678efh567hg6788", KeyMode.CERT, (), None)
        pubkey = html.unescape(get(relative, "/dashboard/merchants/1900000109").text)
        cert = html.unescape(get(relative, "/dashboard/merchants/1900000110").text)
    finally:
        relative.state.store.dispose()
    folder = tmp_path.resolve() / ".wxpay-emulator" / "merchants" / "1900000109"
    assert f"open('{folder / 'apiclient_key.pem'}')" in pubkey
    assert "'.wxpay-emulator/" not in pubkey and '".wxpay-emulator/' not in pubkey
    assert "docs/sdks.md" in pubkey and "README" not in pubkey
    assert (REPO / "docs" / "sdks.md").exists()
    # wechatpay-node-v3 finds a public key mode merchant's PUB_KEY_ID_... once the key is registered
    key = folder / "pub_key.pem"
    registered = f"WxPay.certificates['{made.pub_key_id}'] = readFileSync('{key}', 'utf8');"
    assert pubkey.count(registered) == 1
    assert "WxPay.certificates[" not in cert


def test_pages_declare_an_icon_of_their_own(app: FastAPI, domain: Domain, merchant: Merchant) -> None:
    """No page makes the browser ask for /favicon.ico (a 404 in its console)."""
    place(domain, merchant, "ICON000001")
    prepay_id = domain.orders.get(1).prepay_id
    for path in ("/", "/dashboard/merchants/1900000109", "/emulator/docs", "/dashboard/nothing-here",
                 f"/emulator/v1/checkout?prepay_id={prepay_id}"):  # fmt: skip
        page = get(app, path)
        assert '<link rel="icon" href="data:,">' in page.text, path


def test_the_control_token_guards_every_page(tmp_path: Path) -> None:
    guarded = create_app(Settings(data_dir=tmp_path, control_token="s3cret-token"))
    try:
        for path in ("/", "/dashboard/orders", "/dashboard/nothing-here", "/dashboard/static/dashboard.css",
                     "/emulator/docs"):  # fmt: skip
            assert get(guarded, path).status_code == 401, path
            allowed = get(guarded, path, headers={"Authorization": "Bearer s3cret-token"})
            assert allowed.status_code in (200, 404), path
    finally:
        guarded.state.store.dispose()


def test_number_fields_name_the_field_never_python_text(
    app: FastAPI, domain: Domain, merchant: Merchant
) -> None:
    """A count, amount or time that is not a number gets a redirect (303, as before) whose message names
    the field and what it takes, not ``invalid literal for int()`` or ``could not convert string``."""
    order_id = place(domain, merchant, "NUMBERS001")
    cases = [
        (f"/dashboard/orders/{order_id}/refund", {"amount": "abc"}, "amount: a whole number of fen"),
        (f"/dashboard/orders/{order_id}/refund", {"amount": "1.5"}, "amount: a whole number of fen"),
        (f"/dashboard/orders/{order_id}/refund", {"amount": "٥٠"}, "amount: a whole number of fen"),
        (
            "/dashboard/faults",
            {"operation": "pay.query", "code": "SYSTEM_ERROR", "count": "abc"},
            "count: a whole number of calls",
        ),
        ("/dashboard/clock", {"seconds": "abc"}, "seconds: a number of seconds"),
        ("/dashboard/clock", {"seconds": "nan"}, "seconds: a number of seconds"),
        ("/dashboard/clock", {"minutes": "inf"}, "minutes: a number of minutes"),
        ("/dashboard/clock", {"minutes": "1e999"}, "minutes: a number of minutes"),
    ]
    for path, form, message in cases:
        answer = post(app, path, form)
        assert answer.status_code == 303, (path, form, answer.text)
        error = parse_qs(urlsplit(answer.headers["location"]).query)["error"][0]
        assert error == message, (path, form, error)
    assert domain.clock.offset_seconds == 0 and not app.state.faults.pending()
    # well-formed numbers still work, signs and blanks as before
    assert "ok=" in post(app, "/dashboard/clock", {"seconds": "1.5", "minutes": ""}).headers["location"]
    fault = {"operation": "pay.query", "code": "SYSTEM_ERROR", "count": " 2 "}
    assert "ok=armed+2" in post(app, "/dashboard/faults", fault).headers["location"]

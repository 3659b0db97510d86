"""The dashboard and the checkout page in real headless Chromium (Debian's /usr/bin/chromium driven by
Playwright; scripts/ensure-browser installs it). One browser for the module, the real server on a
loopback port, a real local HTTP receiver for notifications. Every page must load offline: a request
to any host but the emulator fails the test.

Set WXPAY_EMULATOR_SCREENSHOTS=DIR to keep a screenshot of each page visited.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from wechatpayv3 import WeChatPayType

from tests.support.common import DEFAULT_MCHID, new_trade_no, poll
from tests.support.emulator import Emu
from tests.support.receiver import Receiver
from tests.support.sdk import MakeWxpay

CHROMIUM = os.environ.get("WXPAY_EMULATOR_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 15_000

pytestmark = pytest.mark.browser


def _missing(why: str) -> None:
    # In CI the browser tests must run: a missing browser fails them (scripts/ensure-browser installs it).
    if os.environ.get("CI"):
        pytest.fail(f"{why} (CI=true: browser tests may not skip; run scripts/ensure-browser)")
    pytest.skip(why)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package is not installed (pip install -e '.[dev]')")
    if not (shutil.which(CHROMIUM) or Path(CHROMIUM).is_file()):
        _missing(f"{CHROMIUM} is absent (scripts/ensure-browser installs it)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


class Page:
    """A browser tab on the emulator that refuses (and records) any request to another origin."""

    def __init__(self, page: Any, origin: str, shots: Path | None) -> None:
        self.page = page
        self.origin = origin
        self.shots = shots
        self.foreign: list[str] = []
        page.set_default_timeout(TIMEOUT_MS)
        page.route("**/*", self._route)

    def _route(self, route: Any) -> None:
        url = route.request.url
        if url.startswith(self.origin) or url.startswith("data:"):
            route.continue_()
        else:
            self.foreign.append(url)
            route.abort()

    def goto(self, path: str) -> Any:
        return self.page.goto(path if path.startswith("http") else self.origin + path)

    def click_and_load(self, selector: str) -> None:
        """Click a link or a form's button, and wait until the page it leads to has loaded.

        click() returns once the navigation has committed, while the new document may still be
        parsing; a read that does not wait (Locator.count) could then see an empty table."""
        with self.page.expect_navigation(wait_until="load"):
            self.page.click(selector)

    def shot(self, name: str) -> None:
        if self.shots is not None:
            self.page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)


@pytest.fixture
def tab(browser: Any, emu: Emu) -> Iterator[Page]:
    shots = os.environ.get("WXPAY_EMULATOR_SCREENSHOTS")
    folder = Path(shots) if shots else None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    t = Page(context.new_page(), emu.url, folder)
    try:
        yield t
        assert t.foreign == [], f"pages asked for other hosts (they must work offline): {t.foreign}"
    finally:
        context.close()


def place(make_wxpay: MakeWxpay, notify_url: str, total: int = 1234, kind: str = "native") -> str:
    wxpay = make_wxpay("pubkey", notify_url)
    out_trade_no = new_trade_no("DASH")
    extra: dict[str, Any] = {}
    pay_type = WeChatPayType.NATIVE
    if kind == "h5":
        pay_type = WeChatPayType.H5
        extra["scene_info"] = {"payer_client_ip": "127.0.0.1", "h5_info": {"type": "Wap"}}
    code, message = wxpay.pay(
        description="dashboard test", out_trade_no=out_trade_no, amount={"total": total}, pay_type=pay_type,
        **extra,
    )  # fmt: skip
    assert code == 200, message
    return out_trade_no if kind != "h5" else message


def open_order(tab: Page, out_trade_no: str) -> None:
    tab.goto(f"/dashboard/orders?q={out_trade_no}")
    tab.page.click(f"#orders a:text('{out_trade_no}')")
    tab.page.wait_for_selector("#timeline")


def test_pay_from_the_order_page_then_read_the_decrypted_notification_and_its_attempts(
    tab: Page, emu: Emu, make_wxpay: MakeWxpay, receiver: Receiver
) -> None:
    out_trade_no = place(make_wxpay, receiver.url)
    tab.goto("/")
    assert out_trade_no in tab.page.inner_text("#orders")
    tab.shot("overview-unpaid")
    open_order(tab, out_trade_no)
    assert "NOTPAY" in tab.page.inner_text("h1")
    tab.page.click("#pay")
    tab.page.wait_for_selector("#flash-ok")
    assert "SUCCESS" in tab.page.inner_text("h1")
    assert "paid" in tab.page.inner_text("#timeline")
    # POST-redirect-GET: a reload shows the page again and pays nothing twice
    tab.page.reload()
    assert "SUCCESS" in tab.page.inner_text("h1")
    received = receiver.wait_for(1)
    tab.page.reload()
    tab.shot("order-paid")
    tab.page.click("#order-notifications a")
    tab.page.wait_for_selector("#decrypted")
    decrypted = tab.page.inner_text("#decrypted")
    assert f'"out_trade_no": "{out_trade_no}"' in decrypted and '"trade_state": "SUCCESS"' in decrypted
    envelope = tab.page.inner_text("#envelope")
    assert '"ciphertext"' in envelope and out_trade_no not in envelope  # only the ciphertext travels
    poll(lambda: tab.goto(tab.page.url) and tab.page.inner_text("#attempts"), lambda t: "HTTP 200" in t,
         "the attempt on the page")  # fmt: skip
    attempts = tab.page.inner_text("#attempts")
    assert "Wechatpay-Signature" in attempts and "Wechatpay-Serial" in attempts
    assert received[0].headers["Wechatpay-Signature"] in attempts
    tab.shot("notification")
    # redeliver: a second delivery of the same body
    tab.page.click("#redeliver")
    tab.page.wait_for_selector("#flash-ok")
    again = receiver.wait_for(2)
    assert again[1].body == again[0].body
    assert len(emu.orders_with(out_trade_no)) == 1


def test_fail_userpaying_close_and_refund_from_the_order_page(
    tab: Page, emu: Emu, make_wxpay: MakeWxpay, receiver: Receiver
) -> None:
    first = place(make_wxpay, receiver.url)
    open_order(tab, first)
    tab.page.click("#userpaying")
    tab.page.wait_for_selector("#flash-ok")
    assert "USERPAYING" in tab.page.inner_text("h1")
    tab.click_and_load("#fail")
    assert "PAYERROR" in tab.page.inner_text("h1")
    tab.page.click("#close")
    tab.page.wait_for_selector("#flash-ok")
    assert "CLOSED" in tab.page.inner_text("h1") and "closed" in tab.page.inner_text("#timeline")

    second = place(make_wxpay, receiver.url, total=500)
    open_order(tab, second)
    tab.page.click("#pay")
    tab.page.wait_for_selector("#refund-form")
    tab.page.fill("#refund-form input[name=amount]", "200")
    tab.page.click("#refund")
    tab.page.wait_for_selector("#flash-ok")
    assert "PROCESSING" in tab.page.inner_text("#refunds")
    tab.goto("/dashboard/refunds")
    row = f"#refunds tr:has(a:text('{second}'))"
    tab.page.click(f"{row} button[value=SUCCESS]")
    tab.page.wait_for_selector("#flash-ok")
    assert "SUCCESS" in tab.page.inner_text(row)
    tab.shot("refunds")
    # the domain error of a second close shows as a message, not a page error
    open_order(tab, second)
    assert tab.page.is_disabled("#close")


def test_filter_and_search_orders(tab: Page, emu: Emu, make_wxpay: MakeWxpay, receiver: Receiver) -> None:
    paid, unpaid = place(make_wxpay, receiver.url), place(make_wxpay, receiver.url)
    assert emu.pay(mchid="1900000001", out_trade_no=paid).status_code == 200
    transaction_id = emu.orders_with(paid)[0]["transaction"]["transaction_id"]
    tab.goto("/dashboard/orders")
    tab.page.select_option("select[name=state]", "SUCCESS")
    tab.click_and_load("#order-filters button")
    listed = tab.page.inner_text("#orders")
    assert paid in listed and unpaid not in listed
    tab.page.select_option("select[name=state]", "NOTPAY")
    tab.page.select_option("select[name=family]", "v3")
    tab.page.select_option("select[name=mchid]", "1900000001")
    tab.click_and_load("#order-filters button")
    listed = tab.page.inner_text("#orders")
    assert unpaid in listed and paid not in listed
    tab.shot("orders-filtered")
    tab.goto("/dashboard/orders")
    tab.page.fill("input[name=q]", transaction_id)
    tab.click_and_load("#order-filters button")
    rows = tab.page.locator("#orders tbody tr")
    assert rows.count() == 1 and paid in rows.inner_text()
    tab.page.fill("input[name=q]", "NO_SUCH_ORDER_0000")
    tab.click_and_load("#order-filters button")
    assert "No orders." in tab.page.inner_text("#orders")


def test_download_a_merchants_material_and_read_its_sdk_configuration(
    tab: Page, emu: Emu, merchants: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    merchant = merchants["cert"]
    tab.goto("/dashboard/merchants")
    tab.click_and_load(f"#merchants a:text('{merchant['mchid']}')")
    for name in ("apiclient_key.pem", "wechatpay_cert.pem", "merchant.json"):
        with tab.page.expect_download() as download:
            tab.page.click(f"#files a:text('{name}')")
        target = tmp_path / name
        download.value.save_as(target)
        if name.endswith(".pem"):
            assert target.read_text() == merchant[name]
        else:
            assert f'"mchid": "{merchant["mchid"]}"' in target.read_text()
    snippets = tab.page.locator("pre[data-sdk]")
    assert snippets.count() == 6
    v3 = tab.page.inner_text("pre[data-sdk=wechatpayv3]")
    assert f"_gate_way = '{emu.url}'" in v3 and merchant["serial_no"] in v3
    go = tab.page.locator("pre[data-sdk=wechatpay-go]").text_content() or ""
    assert emu.url in go and "WithWechatPayAutoAuthCipher" in go
    tab.shot("merchant")


def test_advance_the_clock_and_arm_and_clear_a_fault(tab: Page, emu: Emu) -> None:
    tab.goto("/dashboard/system")
    tab.page.fill("input[name=minutes]", "90")
    tab.page.click("#advance")
    tab.page.wait_for_selector("#flash-ok")
    assert tab.page.inner_text("#clock-offset") == "5400.0"
    assert emu.control("GET", "/clock").json()["offset_seconds"] == 5400.0
    tab.page.select_option("select[name=operation]", "pay.query")
    tab.page.select_option("select[name=code]", "SYSTEM_ERROR")
    tab.page.fill("input[name=count]", "2")
    tab.page.click("#arm")
    tab.page.wait_for_selector("#flash-ok")
    assert "pay.query: SYSTEM_ERROR, SYSTEM_ERROR" in tab.page.inner_text("#pending")
    assert emu.control("GET", "/faults").json()["pending"] == {"pay.query": ["SYSTEM_ERROR", "SYSTEM_ERROR"]}
    tab.page.select_option("select[name=operation]", "v2.orderquery")
    tab.page.select_option("select[name=code]", "SYSTEM_ERROR")  # not a v2 code: refused, with the reason
    tab.click_and_load("#arm")
    assert "unknown code" in tab.page.inner_text("#flash-error")
    tab.shot("system")
    tab.page.click("#clear-faults")
    tab.page.wait_for_selector("#flash-ok")
    assert "nothing armed" in tab.page.inner_text("#pending")
    assert emu.control("GET", "/faults").json()["pending"] == {}
    # reset asks for confirmation: a dialog, then the typed word
    tab.page.on("dialog", lambda dialog: dialog.accept())
    tab.page.fill("input[name=confirm]", "reset")
    tab.page.click("#do-reset")
    tab.page.wait_for_selector("#flash-ok")
    assert emu.control("GET", "/clock").json()["offset_seconds"] == 0.0


def test_checkout_honours_redirect_url_and_reloads_safely(
    tab: Page, emu: Emu, make_wxpay: MakeWxpay, receiver: Receiver
) -> None:
    h5 = place(make_wxpay, receiver.url, kind="h5")
    h5_url = json.loads(h5)["h5_url"]
    back = f"{emu.url}/dashboard/orders?q=after-pay"
    tab.goto(f"{h5_url}&redirect_url={quote(back, safe='')}")
    assert "¥12.34" in tab.page.inner_text("body")
    tab.shot("checkout")
    tab.page.click("#pay")
    tab.page.wait_for_url(re.compile(r"/dashboard/orders\?q=after-pay$"))
    assert urlsplit(tab.page.url).path == "/dashboard/orders"
    paid = [o for o in emu.orders() if o["prepay_id"] and o["prepay_id"] in h5_url]
    assert len(paid) == 1 and paid[0]["transaction"]["trade_state"] == "SUCCESS"
    # without redirect_url: back to the page (POST, redirect, GET); a reload posts nothing again
    h5_url = json.loads(place(make_wxpay, receiver.url, kind="h5"))["h5_url"]
    tab.goto(h5_url)
    tab.page.click("button[value=NOTENOUGH]")
    tab.page.wait_for_selector("#error")
    assert "/emulator/v1/checkout?" in tab.page.url and "余额不足" in tab.page.inner_text("#error")
    tab.page.click("#pay")
    tab.page.wait_for_selector("#state")
    assert "支付成功" in tab.page.inner_text("#state")
    tab.page.reload()
    assert "支付成功" in tab.page.inner_text("#state") and tab.page.locator("#pay").count() == 0
    receiver.wait_for(2)
    assert len(receiver.requests) == 2  # one notification per order: nothing was paid twice


def test_api_reference_lists_every_family_offline(tab: Page) -> None:
    tab.goto("/emulator/docs")
    tags = tab.page.locator("section.tag").evaluate_all("els => els.map(e => e.dataset.tag)")
    for tag in ("pay", "partner", "combine", "refund", "v2", "cloud", "mp", "emulator"):
        assert tag in tags
    text = tab.page.inner_text("main")
    paths = ["/v3/pay/transactions/{kind}", "/pay/unifiedorder", "/sandboxnew/pay/getsignkey"]
    paths += ["/secapi/pay/refund", "/_/pay/unifiedorder", "/_/cloudpay/unifiedOrder"]
    paths += ["/wxa/getpaidunionid", "/emulator/v1/faults"]
    for path in paths:
        assert path in text, path
    tab.shot("docs")


def test_a_bad_signature_appears_in_the_journal_with_its_expected_message(
    tab: Page, emu: Emu, merchants: dict[str, dict[str, Any]], v3api: Any
) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    merchant = merchants["pubkey"]
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = f"/v3/pay/transactions/out-trade-no/{new_trade_no('BADSIG')}?mchid={merchant['mchid']}"
    timestamp, nonce = int(time.time()), "BROWSERJOURNALNONCE0000000000001"
    response = v3api(merchant).request("GET", path, key=other_key, timestamp=timestamp, nonce=nonce)
    assert response.status_code == 401 and response.json()["code"] == "SIGN_ERROR"
    tab.goto("/dashboard/requests")
    row = tab.page.locator("#requests tbody tr", has_text=path.split("?")[0]).first
    assert "SIGN_ERROR" in row.inner_text() and "signature does not verify" in row.inner_text()
    tab.shot("requests")
    row.locator("a").first.click()
    tab.page.wait_for_selector("#expected-message")
    assert tab.page.inner_text("#sign-reason") == "signature does not verify"
    assert tab.page.inner_text("#entry-status") == "401"
    assert tab.page.text_content("#expected-message") == f"GET\n{path}\n{timestamp}\n{nonce}\n\n"
    tab.shot("request-entry")


def test_new_requests_and_delivery_attempts_appear_without_a_reload(
    tab: Page, emu: Emu, make_wxpay: MakeWxpay, receiver: Receiver
) -> None:
    tab.goto("/dashboard/requests")
    tab.page.wait_for_selector("body[data-events-state=open]")
    marker = tab.page.evaluate("() => { window.sameDocument = true; return window.sameDocument; }")
    assert marker is True
    out_trade_no = place(make_wxpay, receiver.url)
    newest = emu.control("GET", "/requests", params={"limit": 1}).json()["data"][0]
    assert newest["path"] == "/v3/pay/transactions/native" and out_trade_no in newest["request"]["body"]
    row = tab.page.wait_for_selector(f"#requests tbody tr[data-id='{newest['id']}']")
    assert row is not None and "/v3/pay/transactions/native" in row.inner_text()
    assert tab.page.evaluate("() => window.sameDocument") is True  # no navigation happened
    tab.shot("requests-live")
    # a notification page: each delivery attempt appears as it is made
    assert emu.pay(mchid=DEFAULT_MCHID, out_trade_no=out_trade_no).status_code == 200
    receiver.wait_for(1)
    open_order(tab, out_trade_no)
    tab.page.click("#order-notifications a")
    tab.page.wait_for_selector("body[data-events-state=open]")
    tab.page.evaluate("() => { window.sameDocument = true; }")
    notification_id = tab.page.get_attribute("#attempts", "data-live-attempts")
    # The first attempt may be recorded a moment after the receiver got it, so the page may show it
    # or not yet; the redelivery's attempt is the second, and it can only arrive live.
    assert tab.page.locator("#attempts details.attempt").count() <= 1
    assert emu.control("POST", f"/notifications/{notification_id}/redeliver").status_code == 200
    receiver.wait_for(2)
    tab.page.wait_for_function("() => document.querySelectorAll('#attempts details.attempt').length >= 2")
    assert tab.page.evaluate("() => window.sameDocument") is True
    tab.shot("notification-live")

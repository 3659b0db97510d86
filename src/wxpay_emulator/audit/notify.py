"""``audit notify``: probe a merchant's payment-notification handler with genuine and broken notices.

Every probe is sent as WeChat would send it except for the one thing its check names, and judged by the
family's own acknowledgement rule (notify/protocols.py):

- APIv3: ``genuine_accepted``, ``forged_signature_refused`` (signed by another key),
  ``unknown_serial_refused`` (a ``Wechatpay-Serial`` the merchant does not hold; the signature is
  genuine), ``stale_timestamp_refused`` (6 minutes old, genuinely signed over that timestamp),
  ``tampered_ciphertext_refused`` (``resource.ciphertext`` altered, then ``associated_data`` altered;
  both re-signed, so only decryption can tell), ``duplicate_acknowledged`` (the same notification again,
  with fresh signature headers as WeChat's retries carry), ``answered_within_5s``.
- APIv2: ``genuine_accepted``, ``wrong_sign_refused`` (``sign`` made with another API key),
  ``sign_type_mismatch_refused`` (signed with the merchant's key but the other of MD5 / HMAC-SHA256
  than the order was placed with), ``duplicate_acknowledged``, ``answered_within_5s``.
- Cloud callbacks (cloud hosting / cloud functions): WeChat's cloud delivers them inside its own network
  and signs nothing the merchant could verify, so only ``genuine_accepted``, ``duplicate_acknowledged``
  and ``answered_within_5s`` apply.

A refused check passes only if the genuine notice was acknowledged: a handler that answers everything
with 404 or 500 refuses the broken probes too, which proves nothing, so its refused checks fail as
"inconclusive". The refused probes go first, then the genuine notice, then its duplicate: a handler
that (wrongly) lets "already processed" short-cut its checks cannot pass a refused check by the genuine
one's doing. Each refused probe is a distinct notification (its own ``id`` or ``nonce_str``).

The order: ``out_trade_no`` given, the body of that order's real payment notification from the outbox
(it must have been paid). Otherwise a synthetic paid order (``AUDIT_<hex>``, 1 fen, JSAPI, openid
``oAUDIT...``) that is built in memory and stored nowhere: the merchant's orders, notifications and
refunds in the emulator are unchanged by an audit.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx

from wxpay_emulator import wire
from wxpay_emulator.audit import notices
from wxpay_emulator.audit.report import Check, Report
from wxpay_emulator.clock import Clock
from wxpay_emulator.crypto import keys, rsa_sign, v2_sign
from wxpay_emulator.domain.errors import DomainError, ErrorCode
from wxpay_emulator.domain.models import KeyMode, Merchant, Order
from wxpay_emulator.domain.services import Domain
from wxpay_emulator.domain.states import TradeState

FAMILIES = ("v3", "v2", "cloud")
TIMEOUT_SECONDS = 5.0  # WeChat's wait for the merchant's answer
STALE_SECONDS = 360  # older than WeChat's 5-minute window
ANSWER_KEEP = 120  # characters of an answer shown in the report

RULES: dict[str, str | dict[str, str]] = {
    "genuine_accepted": {
        "v3": "Acknowledge a genuine notification with HTTP 200 or 204; anything else makes WeChat retry.",
        "v2": "Acknowledge a genuine notification with <xml><return_code>SUCCESS</return_code>...</xml>.",
        "cloud": 'Acknowledge a genuine callback with {"errcode": 0}; anything else makes WeChat retry.',
    },
    "forged_signature_refused": "Verify Wechatpay-Signature over 'timestamp\\nnonce\\nbody\\n' with the "
    "WeChat Pay platform certificate or public key before trusting the body.",
    "unknown_serial_refused": "Wechatpay-Serial names the platform certificate or public key that signed; "
    "do not trust a notification signed under a serial you do not hold.",
    "stale_timestamp_refused": "Refuse a Wechatpay-Timestamp more than 5 minutes from your clock "
    "(replay protection).",
    "tampered_ciphertext_refused": "Decrypt resource with AEAD_AES_256_GCM under your APIv3 key, its nonce "
    "and associated_data; a failed authentication means the notification is not genuine.",
    "wrong_sign_refused": "Verify sign over the sorted fields and &key=<API key> before trusting the "
    "notification.",
    "sign_type_mismatch_refused": "Verify with the sign_type your order was placed with (MD5 or "
    "HMAC-SHA256); a notification signed the other way is not genuine.",
    "duplicate_acknowledged": "The same notification can arrive again; process it once and acknowledge "
    "every copy, or WeChat keeps retrying.",
    "answered_within_5s": "WeChat waits 5 s for the answer; a slower one counts as a failed delivery.",
}

ACK = {
    "v3": "acknowledged (HTTP 200 or 204)",
    "v2": "acknowledged (HTTP 200 with return_code SUCCESS)",
    "cloud": 'acknowledged (HTTP 200 with {"errcode": 0})',
}
REFUSED = {
    "v3": "refused (not HTTP 200/204)",
    "v2": "refused (no SUCCESS XML)",
    "cloud": "refused (no errcode 0)",
}

_stranger_lock = threading.Lock()
_stranger_key: bytes | None = None


def stranger_key() -> bytes:
    """A private key that is nobody's platform key (made once per process)."""
    global _stranger_key
    with _stranger_lock:
        if _stranger_key is None:
            _stranger_key = keys.generate_private_key_pem()
        return _stranger_key


@dataclass(frozen=True)
class Sent:
    status: int | None
    text: str
    error: str | None
    seconds: float
    acknowledged: bool

    def describe(self) -> str:
        if self.error is not None:
            return f"no answer ({self.error})"
        text = " ".join(self.text.split())
        if len(text) > ANSWER_KEEP:
            text = text[:ANSWER_KEEP] + "..."
        verdict = "acknowledged" if self.acknowledged else "refused"
        return f"{verdict}: HTTP {self.status} {text}".rstrip() + f" in {self.seconds * 1000:.0f} ms"


class Prober:
    def __init__(self, url: str, protocol: notices.WireProtocol, timeout: float) -> None:
        self.url = url
        self.protocol = protocol
        self.client = httpx.Client(timeout=timeout, trust_env=False, follow_redirects=False)
        self.sent: list[Sent] = []

    def close(self) -> None:
        self.client.close()

    def send(self, body: str, headers: dict[str, str]) -> Sent:
        started = time.perf_counter()
        status: int | None = None
        text = ""
        error: str | None = None
        try:
            response = self.client.post(self.url, content=body.encode(), headers=headers)
            status, text = response.status_code, response.text[:2000]
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        seconds = time.perf_counter() - started
        acknowledged = False
        if error is None:
            try:
                acknowledged = self.protocol.acknowledged(status, text)
            except Exception:  # an answer the rule cannot read acknowledges nothing
                acknowledged = False
        sent = Sent(status, text, error, seconds, acknowledged)
        self.sent.append(sent)
        return sent


def _refused(name: str, family: str, sends: list[tuple[str, Sent]]) -> Check:
    observed = "; ".join(f"{label}: {s.describe()}" if label else s.describe() for label, s in sends)
    passed = all(s.error is None and not s.acknowledged for _, s in sends)
    return Check(name, passed, REFUSED[family], observed, str(RULES[name]))


def _proven(checks: list[Check], genuine: Sent) -> list[Check]:
    """A refusal proves something only beside an acknowledged genuine notice: a handler that answers
    everything with 404 or 500 "refuses" every broken probe too. When the genuine notice was not
    acknowledged, every refused check fails as inconclusive, saying why."""
    if genuine.error is None and genuine.acknowledged:
        return checks
    why = (
        f"inconclusive: the genuine notification was not acknowledged ({genuine.describe()}), so this "
        "refusal proves nothing; fix genuine_accepted first. Observed: "
    )
    return [
        dataclasses.replace(c, passed=False, observed=why + c.observed) if c.name.endswith("_refused") else c
        for c in checks
    ]


def _accepted(name: str, family: str, sent: Sent) -> Check:
    rule = RULES[name]
    text = rule[family] if isinstance(rule, dict) else rule
    return Check(name, sent.error is None and sent.acknowledged, ACK[family], sent.describe(), text)


def _timely(family: str, prober: Prober, timeout: float) -> Check:
    slowest = max(prober.sent, key=lambda s: s.seconds)
    unanswered = [s for s in prober.sent if s.error is not None]
    passed = not unanswered and slowest.seconds < timeout
    observed = f"slowest of {len(prober.sent)} answers: {slowest.seconds * 1000:.0f} ms"
    if unanswered:
        observed += f"; {len(unanswered)} unanswered ({unanswered[0].error})"
    return Check("answered_within_5s", passed, f"every answer within {timeout:g} s", observed,
                 str(RULES["answered_within_5s"]))  # fmt: skip


# --- the notice under audit ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Notice:
    merchant: Merchant  # whose keys sign and encrypt it (the provider's, for partner orders)
    order: Order
    body: str
    synthetic: bool


def _family_of(order_family: str) -> str:
    if order_family.startswith("v2"):
        return "v2"
    if order_family.startswith("cloud"):
        return "cloud"
    return "v3"


def _synthetic_order(domain: Domain, merchant: Merchant, family: str, url: str, sign_type: str) -> Order:
    now = domain.clock.now()
    family_name = {"v3": "v3", "v2": "v2", "cloud": "cloud"}[family]
    extras: dict[str, Any] = {"sign_type": sign_type} if family == "v2" else {}
    return Order(
        id=0,
        mchid=merchant.mchid,
        appid=merchant.appid,
        out_trade_no=f"AUDIT_{secrets.token_hex(12)}",
        trade_type="JSAPI",
        description="wxpay-emulator audit",
        total=1,
        currency="CNY",
        notify_url=url,
        family=family_name,
        state=TradeState.SUCCESS,
        created_at=now,
        time_expire=None,
        prepay_id=domain.ids.prepay_id(now),
        prepay_expires_at=None,
        fingerprint="audit",
        payer_openid="oAUDIT" + secrets.token_hex(11),
        extras=extras,
        transaction_id=domain.ids.transaction_id(now),
        bank_type="OTHERS",
        success_time=now,
        payer_total=1,
        sp_mchid=merchant.sp_mchid,
    )


def notice_for(
    domain: Domain,
    url: str,
    family: str,
    mchid: str | None,
    out_trade_no: str | None,
    sign_type: str | None,
) -> Notice:
    if family not in FAMILIES:
        raise DomainError(ErrorCode.PARAM_ERROR, f"family must be one of {', '.join(FAMILIES)}")
    if mchid is None:
        merchants = domain.merchants.list()
        if not merchants:
            raise DomainError(ErrorCode.PARAM_ERROR, "no merchant yet: create one first")
        mchid = merchants[0].mchid
    merchant = domain.merchants.get(mchid)
    if out_trade_no is None:
        chosen = sign_type or v2_sign.MD5
        if chosen not in (v2_sign.MD5, v2_sign.HMAC_SHA256):
            raise DomainError(ErrorCode.PARAM_ERROR, "sign_type must be MD5 or HMAC-SHA256")
        order = _synthetic_order(domain, merchant, family, url, chosen)
        receiver = domain.merchants.get(order.notify_mchid)
        body = notices.render_payment(
            family, receiver, order, domain.ids.notification_id(), domain.clock.now(), domain.ids
        )
        return Notice(receiver, order, body, synthetic=True)
    order = domain.orders.find(mchid, out_trade_no=out_trade_no, sp_mchid=merchant.sp_mchid)
    if _family_of(order.family) != family:
        raise DomainError(
            ErrorCode.PARAM_ERROR,
            f"order {out_trade_no} was placed through {order.family}; audit it with --family "
            f"{_family_of(order.family)}",
        )
    receiver = domain.merchants.get(order.notify_mchid)
    for n, _attempts in domain.notifications.list(receiver.mchid, limit=1000):
        if n.order_id == order.id and n.event_type == "TRANSACTION.SUCCESS":
            return Notice(receiver, order, n.body, synthetic=False)
    raise DomainError(
        ErrorCode.PARAM_ERROR, f"order {out_trade_no} has no payment notification yet: pay it first"
    )


# --- the probes ---------------------------------------------------------------------------------------


def _v3_headers(
    protocol: notices.WireProtocol,
    body: str,
    serial: str,
    key: bytes,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    stamp = str(timestamp if timestamp is not None else Clock.real_timestamp())
    headers = {"Content-Type": protocol.content_type, "User-Agent": "Mozilla/4.0"}
    headers.update(
        rsa_sign.signature_headers(serial, key, body.encode(), stamp, nonce or secrets.token_hex(16))
    )
    return headers


def _unknown_serial(merchant: Merchant) -> str:
    held = {merchant.platform_serial.upper(), merchant.pub_key_id.upper()}
    while True:
        if merchant.key_mode is KeyMode.PUBKEY:
            serial = "PUB_KEY_ID_01" + "".join(str(secrets.randbelow(10)) for _ in range(22))
        else:
            serial = secrets.token_hex(20).upper()
        if serial.upper() not in held:
            return serial


def _flip(b64: str) -> str:
    raw = bytearray(base64.b64decode(b64))
    raw[0] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def _v3_checks(notice: Notice, prober: Prober, domain: Domain, timeout: float) -> list[Check]:
    protocol = prober.protocol
    merchant = notice.merchant
    serial, key = merchant.signing_identity()
    genuine = json.loads(notice.body)

    def another(**resource: str) -> str:
        body = {**genuine, "id": domain.ids.notification_id()}
        if resource:
            body["resource"] = {**genuine["resource"], **resource}
        return wire.dumps(body)

    checks: dict[str, Check] = {}
    body = another()
    forged = _v3_headers(protocol, body, serial, stranger_key())
    checks["forged_signature_refused"] = _refused(
        "forged_signature_refused", "v3", [("", prober.send(body, forged))]
    )
    body = another()
    headers = _v3_headers(protocol, body, serial, key)
    headers["Wechatpay-Serial"] = _unknown_serial(merchant)
    checks["unknown_serial_refused"] = _refused(
        "unknown_serial_refused", "v3", [("", prober.send(body, headers))]
    )
    body = another()
    stale = _v3_headers(protocol, body, serial, key, timestamp=Clock.real_timestamp() - STALE_SECONDS)
    checks["stale_timestamp_refused"] = _refused(
        "stale_timestamp_refused", "v3", [("", prober.send(body, stale))]
    )
    resource = genuine["resource"]
    sends = []
    body = another(ciphertext=_flip(resource["ciphertext"]))
    sends.append(("ciphertext altered", prober.send(body, _v3_headers(protocol, body, serial, key))))
    body = another(associated_data=resource.get("associated_data", "") + "_altered")
    sends.append(("associated_data altered", prober.send(body, _v3_headers(protocol, body, serial, key))))
    checks["tampered_ciphertext_refused"] = _refused("tampered_ciphertext_refused", "v3", sends)
    first = prober.send(notice.body, _v3_headers(protocol, notice.body, serial, key))
    again = prober.send(notice.body, _v3_headers(protocol, notice.body, serial, key))
    order = [
        _accepted("genuine_accepted", "v3", first),
        checks["forged_signature_refused"],
        checks["unknown_serial_refused"],
        checks["stale_timestamp_refused"],
        checks["tampered_ciphertext_refused"],
        _accepted("duplicate_acknowledged", "v3", again),
        _timely("v3", prober, timeout),
    ]
    return _proven(order, first)


def _v2_checks(notice: Notice, prober: Prober, timeout: float) -> list[Check]:
    protocol = prober.protocol
    headers = {"Content-Type": protocol.content_type, "User-Agent": "Mozilla/4.0"}
    fields: dict[str, notices.Value | None] = dict(notices.v2_fields(notice.body))
    fields.pop("sign", None)
    key = notices.signing_key(notice.merchant, notice.order)
    sign_type = notices.sign_type_of(notice.order)
    other_type = v2_sign.HMAC_SHA256 if sign_type == v2_sign.MD5 else v2_sign.MD5

    def fresh() -> dict[str, notices.Value | None]:
        return {**fields, "nonce_str": secrets.token_hex(16)}

    wrong_key = secrets.token_hex(16)
    wrong = prober.send(notices.signed_xml(fresh(), wrong_key, sign_type), headers)
    mismatched = prober.send(notices.signed_xml(fresh(), key, other_type), headers)
    first = prober.send(notice.body, headers)
    again = prober.send(notice.body, headers)
    checks = [
        _accepted("genuine_accepted", "v2", first),
        _refused("wrong_sign_refused", "v2", [(f"{sign_type} with another key", wrong)]),
        _refused(
            "sign_type_mismatch_refused", "v2", [(f"order {sign_type}, signed {other_type}", mismatched)]
        ),
        _accepted("duplicate_acknowledged", "v2", again),
        _timely("v2", prober, timeout),
    ]
    return _proven(checks, first)


def _cloud_checks(notice: Notice, prober: Prober, timeout: float) -> list[Check]:
    headers = {"Content-Type": prober.protocol.content_type, "User-Agent": "Mozilla/4.0"}
    first = prober.send(notice.body, headers)
    again = prober.send(notice.body, headers)
    return [
        _accepted("genuine_accepted", "cloud", first),
        _accepted("duplicate_acknowledged", "cloud", again),
        _timely("cloud", prober, timeout),
    ]


def audit_notify(
    domain: Domain,
    url: str,
    *,
    family: str = "v3",
    mchid: str | None = None,
    out_trade_no: str | None = None,
    sign_type: str | None = None,
    timeout: float = TIMEOUT_SECONDS,
) -> Report:
    """Probe the handler at ``url``; blocking (run it off the event loop)."""
    if not url.startswith(("http://", "https://")):
        raise DomainError(ErrorCode.PARAM_ERROR, "url must start with http:// or https://")
    notice = notice_for(domain, url, family, mchid, out_trade_no, sign_type)
    protocol = notices.protocol_for(family)
    prober = Prober(url, protocol, timeout)
    try:
        if family == "v3":
            checks = _v3_checks(notice, prober, domain, timeout)
        elif family == "v2":
            checks = _v2_checks(notice, prober, timeout)
        else:
            checks = _cloud_checks(notice, prober, timeout)
    finally:
        prober.close()
    return Report(
        target=url,
        family=family,
        mchid=notice.order.mchid,
        out_trade_no=notice.order.out_trade_no,
        synthetic=notice.synthetic,
        checks=tuple(checks),
    )

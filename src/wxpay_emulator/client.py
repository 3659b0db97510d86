"""A framework-free client of a running emulator's control plane (``/emulator/v1/...``), for merchants'
test suites. The pytest plugin (pytest_plugin.py) hands one out as the ``wxpay_emulator`` fixture; any
other runner can use it directly::

    from wxpay_emulator.client import EmulatorClient
    from wxpay_emulator.server import emulator_server

    with emulator_server(tmp_dir) as emu:         # or EmulatorClient("http://127.0.0.1:8600")
        m = emu.merchant()                        # a fresh merchant with its own keys
        pay = emu.wechatpayv3_client(m, notify_url="http://127.0.0.1:9000/notify")
        ...
        emu.pay(m, "ORDER_1")
        notice = emu.wait_for_notification(out_trade_no="ORDER_1")

Every wait is bounded in time and in number of polls.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from wxpay_emulator.audit.report import Report

POLL_SECONDS = 0.05


class EmulatorError(RuntimeError):
    """The control plane refused a call; ``code`` and ``message`` are its answer."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class JournalUnavailable(RuntimeError):
    """This emulator has no request journal (``GET /emulator/v1/requests`` answered 404)."""


class NotificationTimeout(AssertionError):
    """``wait_for_notification`` ran out of time; the message shows what was there."""


@dataclass(frozen=True)
class EmulatedMerchant:
    """A merchant of the emulator, with everything a merchant pastes into its SDK config.

    Text fields are PEM strings; ``*_path`` fields are the same material as files in the emulator's data
    dir (``<data-dir>/merchants/<mchid>/``).
    """

    mchid: str  # 商户号
    appid: str  # the main bound appid
    appids: tuple[str, ...]  # every bound appid, appid first
    key_mode: str  # "pubkey": WeChat Pay public key mode; "cert": platform certificate mode
    sp_mchid: str | None  # a sub-merchant's service provider / platform
    serial_no: str  # serial of the merchant's API certificate (cert_serial_no in SDKs)
    apiv3_key: str  # 32 characters: decrypts notification resources
    api_key: str  # APIv2 key (MD5 / HMAC-SHA256 sign)
    private_key_pem: str  # the merchant's API private key (apiclient_key.pem)
    private_key_path: Path
    certificate_pem: str  # the merchant's API certificate (apiclient_cert.pem)
    certificate_path: Path
    platform_serial: str  # Wechatpay-Serial of the platform certificate (cert mode)
    platform_cert_pem: str  # wechatpay_cert.pem
    platform_cert_path: Path
    pub_key_id: str  # Wechatpay-Serial in public key mode (PUB_KEY_ID_...)
    pub_key_pem: str  # the WeChat Pay public key (pub_key.pem)
    pub_key_path: Path
    cert_dir: Path  # wechatpayv3's cert_dir: the platform certificate saved under its serial
    folder: Path  # the merchant's folder in the data dir

    @property
    def wechatpay_serial(self) -> str:
        """The ``Wechatpay-Serial`` WeChat's answers and notifications to this merchant carry."""
        return self.pub_key_id if self.key_mode == "pubkey" else self.platform_serial

    @property
    def wechatpay_public_pem(self) -> str:
        """What verifies them: the public key (pubkey mode) or the platform certificate (cert mode)."""
        return self.pub_key_pem if self.key_mode == "pubkey" else self.platform_cert_pem

    @classmethod
    def from_json(cls, info: dict[str, Any]) -> EmulatedMerchant:
        files = {name: Path(path) for name, path in info["files"].items()}
        folder = files["apiclient_key.pem"].parent
        return cls(
            mchid=info["mchid"],
            appid=info["appid"],
            appids=tuple(info.get("appids") or [info["appid"]]),
            key_mode=info["key_mode"],
            sp_mchid=info.get("sp_mchid"),
            serial_no=info["serial_no"],
            apiv3_key=info["apiv3_key"],
            api_key=info["api_key"],
            private_key_pem=files["apiclient_key.pem"].read_text(),
            private_key_path=files["apiclient_key.pem"],
            certificate_pem=files["apiclient_cert.pem"].read_text(),
            certificate_path=files["apiclient_cert.pem"],
            platform_serial=info["platform_serial"],
            platform_cert_pem=files["wechatpay_cert.pem"].read_text(),
            platform_cert_path=files["wechatpay_cert.pem"],
            pub_key_id=info["pub_key_id"],
            pub_key_pem=files["pub_key.pem"].read_text(),
            pub_key_path=files["pub_key.pem"],
            cert_dir=folder / "certs",
            folder=folder,
        )


@dataclass(frozen=True)
class Notification:
    """A notification in the emulator's outbox, with its resource readable."""

    id: str
    mchid: str  # the merchant it goes to (the provider, for partner orders)
    event_type: str  # TRANSACTION.SUCCESS, REFUND.SUCCESS ...
    family: str  # v3, v2, cloud ...
    url: str
    status: str  # PENDING, DELIVERED or FAILED
    attempts: int
    body: str  # exactly what is POSTed
    deliveries: tuple[dict[str, Any], ...]
    resource: dict[str, Any] = field(default_factory=dict)  # decrypted (v3), parsed (v2, cloud)

    @property
    def out_trade_no(self) -> str | None:
        value = self.resource.get("out_trade_no", self.resource.get("outTradeNo"))
        return str(value) if value is not None else None

    @property
    def out_refund_no(self) -> str | None:
        value = self.resource.get("out_refund_no", self.resource.get("outRefundNo"))
        return str(value) if value is not None else None


MchidLike = str | EmulatedMerchant


def _mchid(m: MchidLike) -> str:
    return m.mchid if isinstance(m, EmulatedMerchant) else str(m)


class EmulatorClient:
    """The control plane of the emulator at ``url``."""

    def __init__(
        self, url: str, *, timeout: float = 30.0, verify: Any = True, token: str | None = None
    ) -> None:
        """``token``: the control token of an emulator that requires one (api/control_token.py);
        default ``WXPAY_EMULATOR_CONTROL_TOKEN``."""
        self.url = url.rstrip("/")
        token = token if token is not None else os.environ.get("WXPAY_EMULATOR_CONTROL_TOKEN") or None
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(
            base_url=self.url, timeout=timeout, trust_env=False, verify=verify, headers=headers
        )
        self._keys: dict[str, tuple[str, str]] = {}  # mchid -> (apiv3_key, api_key)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> EmulatorClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- plumbing -----------------------------------------------------------------------------------

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, path, **kwargs)
        try:
            data = response.json()
        except ValueError:
            data = {"code": "NOT_JSON", "message": response.text[:200]}
        if response.status_code >= 400:
            code = data.get("code", "") if isinstance(data, dict) else ""
            message = data.get("message", "") if isinstance(data, dict) else str(data)
            raise EmulatorError(response.status_code, str(code), str(message))
        return data

    def health(self) -> dict[str, Any]:
        data: dict[str, Any] = self._call("GET", "/emulator/v1/health")
        return data

    # --- merchants ----------------------------------------------------------------------------------

    def merchant(
        self,
        key_mode: str = "pubkey",
        sp_mchid: MchidLike | None = None,
        appids: Iterable[str] = (),
        *,
        mchid: str | None = None,
        appid: str | None = None,
    ) -> EmulatedMerchant:
        """A new merchant with its own keys (``key_mode`` "pubkey" or "cert"); ``sp_mchid`` makes it a
        sub-merchant of that provider; ``appids`` binds more appids."""
        body: dict[str, Any] = {"key_mode": key_mode, "appids": list(appids)}
        if sp_mchid is not None:
            body["sp_mchid"] = _mchid(sp_mchid)
        if mchid is not None:
            body["mchid"] = mchid
        if appid is not None:
            body["appid"] = appid
        info = self._call("POST", "/emulator/v1/merchants", json=body)
        merchant = EmulatedMerchant.from_json(info)
        self._keys[merchant.mchid] = (merchant.apiv3_key, merchant.api_key)
        return merchant

    def get_merchant(self, mchid: str) -> EmulatedMerchant:
        merchant = EmulatedMerchant.from_json(self._call("GET", f"/emulator/v1/merchants/{mchid}"))
        self._keys[merchant.mchid] = (merchant.apiv3_key, merchant.api_key)
        return merchant

    # --- the payer, refunds, the clock --------------------------------------------------------------

    def pay(
        self,
        merchant: MchidLike,
        out_trade_no: str,
        *,
        result: str = "SUCCESS",
        openid: str | None = None,
    ) -> dict[str, Any]:
        """Play the WeChat user paying the order; answers the order as the APIv3 query shows it."""
        body = {"mchid": _mchid(merchant), "out_trade_no": out_trade_no, "result": result}
        if openid is not None:
            body["openid"] = openid
        data: dict[str, Any] = self._call("POST", "/emulator/v1/payments", json=body)
        return data

    def pay_combine(
        self, combine_mchid: MchidLike, combine_out_trade_no: str, *, result: str = "SUCCESS"
    ) -> dict[str, Any]:
        """Pay a whole combine order (合单): every sub-order at once."""
        body = {"combine_mchid": _mchid(combine_mchid), "combine_out_trade_no": combine_out_trade_no,
                "result": result}  # fmt: skip
        data: dict[str, Any] = self._call("POST", "/emulator/v1/payments", json=body)
        return data

    def fail(self, merchant: MchidLike, out_trade_no: str, *, result: str = "PAYERROR") -> dict[str, Any]:
        """The payment fails (PAYERROR, or NOTENOUGH: the payer's balance is short)."""
        return self.pay(merchant, out_trade_no, result=result)

    def orders(self, merchant: MchidLike | None = None) -> list[dict[str, Any]]:
        params = {"mchid": _mchid(merchant)} if merchant is not None else None
        data: list[dict[str, Any]] = self._call("GET", "/emulator/v1/orders", params=params)["data"]
        return data

    def refund(
        self,
        merchant: MchidLike,
        out_trade_no: str,
        amount: int,
        *,
        out_refund_no: str | None = None,
        reason: str | None = None,
        notify_url: str | None = None,
    ) -> dict[str, Any]:
        """Apply for a refund as the merchant would; it is PROCESSING until settled."""
        body: dict[str, Any] = {"mchid": _mchid(merchant), "out_trade_no": out_trade_no, "amount": amount}
        for key, value in (("out_refund_no", out_refund_no), ("reason", reason), ("notify_url", notify_url)):
            if value is not None:
                body[key] = value
        data: dict[str, Any] = self._call("POST", "/emulator/v1/refunds", json=body)
        return data

    def settle_refund(
        self, merchant: MchidLike, out_refund_no: str, status: str = "SUCCESS"
    ) -> dict[str, Any]:
        """Decide a PROCESSING refund now: SUCCESS, ABNORMAL or CLOSED."""
        body = {"mchid": _mchid(merchant), "status": status}
        data: dict[str, Any] = self._call("POST", f"/emulator/v1/refunds/{out_refund_no}", json=body)
        return data

    def refunds(self, merchant: MchidLike | None = None) -> list[dict[str, Any]]:
        params = {"mchid": _mchid(merchant)} if merchant is not None else None
        data: list[dict[str, Any]] = self._call("GET", "/emulator/v1/refunds", params=params)["data"]
        return data

    def advance_clock(self, seconds: float) -> dict[str, Any]:
        """Move the emulator's business clock forward (order expiry, refund delays, retries)."""
        data: dict[str, Any] = self._call("POST", "/emulator/v1/clock", json={"advance_seconds": seconds})
        return data

    # --- faults -------------------------------------------------------------------------------------

    def arm_fault(
        self, operation: str, code: str | None = None, *, tamper: str | None = None, count: int = 1
    ) -> dict[str, Any]:
        """The next ``count`` calls of ``operation`` answer the WeChat error ``code``, or (APIv3) carry
        a broken ``Wechatpay-*`` header: ``tamper`` = "signature", "serial" or "timestamp"."""
        body: dict[str, Any] = {"operation": operation, "count": count}
        if code is not None:
            body["code"] = code
        if tamper is not None:
            body["tamper"] = tamper
        data: dict[str, Any] = self._call("POST", "/emulator/v1/faults", json=body)
        return data

    def clear_faults(self) -> None:
        self._call("DELETE", "/emulator/v1/faults")

    # --- notifications and the journal -------------------------------------------------------------

    def _keys_of(self, mchid: str) -> tuple[str, str]:
        if mchid not in self._keys:
            self.get_merchant(mchid)
        return self._keys[mchid]

    def _readable(self, row: dict[str, Any]) -> Notification:
        resource: dict[str, Any] = {}
        family = str(row["family"])
        try:
            if family.startswith("v2"):
                resource = self._v2_resource(row["mchid"], row["body"])
            elif family.startswith("cloud"):
                resource = json.loads(row["body"])
            else:
                resource = self._v3_resource(row["mchid"], row["body"])
        except Exception:  # a body this client cannot read (another merchant's key ...) stays unread
            resource = {}
        return Notification(
            id=row["id"],
            mchid=row["mchid"],
            event_type=row["event_type"],
            family=family,
            url=row["url"],
            status=row["status"],
            attempts=row["attempts"],
            body=row["body"],
            deliveries=tuple(row.get("deliveries") or ()),
            resource=resource,
        )

    def _v3_resource(self, mchid: str, body: str) -> dict[str, Any]:
        from wxpay_emulator.crypto import aead

        r = json.loads(body)["resource"]
        key = self._keys_of(mchid)[0]
        plain = aead.decrypt(key.encode(), r["nonce"].encode(), r.get("associated_data", "").encode(),
                             r["ciphertext"])  # fmt: skip
        data: dict[str, Any] = json.loads(plain)
        return data

    def _v2_resource(self, mchid: str, body: str) -> dict[str, Any]:
        """The notification's fields; a refund's ``req_info`` (its ``<root>`` XML, AES-256-ECB under the
        MD5 of the API key) decrypted into them."""
        import defusedxml.ElementTree as SafeET

        from wxpay_emulator.api.v2 import wire as v2_wire
        from wxpay_emulator.crypto import req_info

        fields: dict[str, Any] = dict(v2_wire.parse(body.encode()))
        if "req_info" in fields:
            inner = SafeET.fromstring(req_info.decrypt(self._keys_of(mchid)[1], fields["req_info"]))
            fields.update({child.tag: child.text or "" for child in inner})
        return fields

    def notifications(self, merchant: MchidLike | None = None) -> list[Notification]:
        """The outbox, newest first, each with its resource decrypted."""
        params = {"mchid": _mchid(merchant)} if merchant is not None else None
        rows = self._call("GET", "/emulator/v1/notifications", params=params)["data"]
        return [self._readable(row) for row in rows]

    def wait_for_notification(
        self,
        *,
        out_trade_no: str | None = None,
        out_refund_no: str | None = None,
        merchant: MchidLike | None = None,
        event_type: str | None = None,
        status: str | None = "DELIVERED",
        timeout: float = 10.0,
    ) -> Notification:
        """The first notification that matches, once its status is ``status`` (None: any status).

        Polls every 50 ms for at most ``timeout`` seconds; raises :class:`NotificationTimeout`
        showing what the emulator had."""
        deadline = time.monotonic() + timeout
        last: list[Notification] = []
        for _ in range(int(timeout / POLL_SECONDS) + 2):
            last = [
                n
                for n in self.notifications(merchant)
                if (out_trade_no is None or n.out_trade_no == out_trade_no)
                and (out_refund_no is None or n.out_refund_no == out_refund_no)
                and (event_type is None or n.event_type == event_type)
            ]
            done = [n for n in last if status is None or n.status == status]
            if done:
                return done[-1]  # the oldest match
            if time.monotonic() >= deadline:
                break
            time.sleep(POLL_SECONDS)
        seen = [
            {"event_type": n.event_type, "status": n.status, "attempts": n.attempts,
             "last_delivery": n.deliveries[-1] if n.deliveries else None}
            for n in last
        ]  # fmt: skip
        raise NotificationTimeout(
            f"no notification (out_trade_no={out_trade_no}, out_refund_no={out_refund_no}, "
            f"event_type={event_type}) reached status {status} within {timeout}s; matching: {seen}"
        )

    def requests(self, merchant: MchidLike | None = None) -> list[dict[str, Any]]:
        """The request journal (``GET /emulator/v1/requests?mchid=``), where this emulator has one."""
        params = {"mchid": _mchid(merchant)} if merchant is not None else None
        response = self.http.get("/emulator/v1/requests", params=params)
        if response.status_code == 404:
            raise JournalUnavailable(
                f"the emulator at {self.url} has no request journal (GET /emulator/v1/requests answered "
                "404): upgrade wxpay-emulator to a version with the journal"
            )
        if response.status_code >= 400:
            data = response.json()
            raise EmulatorError(response.status_code, str(data.get("code")), str(data.get("message")))
        payload = response.json()
        rows: list[dict[str, Any]] = payload["data"] if isinstance(payload, dict) else payload
        return rows

    # --- the audit ----------------------------------------------------------------------------------

    def audit_notify(
        self,
        url: str,
        *,
        merchant: MchidLike | None = None,
        family: str = "v3",
        out_trade_no: str | None = None,
        sign_type: str | None = None,
    ) -> Report:
        """Probe the notification handler at ``url`` (audit/notify.py); see ``Report.passed``."""
        body: dict[str, Any] = {"url": url, "family": family}
        if merchant is not None:
            body["mchid"] = _mchid(merchant)
        if out_trade_no is not None:
            body["out_trade_no"] = out_trade_no
        if sign_type is not None:
            body["sign_type"] = sign_type
        return Report.from_json(self._call("POST", "/emulator/v1/audits", json=body, timeout=120))

    # --- SDK clients --------------------------------------------------------------------------------

    def wechatpayv3_client(
        self,
        merchant: EmulatedMerchant,
        notify_url: str | None = None,
        *,
        appid: str | None = None,
        wechatpay_type: Any = None,
        **options: Any,
    ) -> Any:
        """A ``wechatpayv3.WeChatPay`` of ``merchant`` (in its key mode) pointed at this emulator."""
        try:
            from wechatpayv3 import WeChatPay, WeChatPayType  # type: ignore[import-untyped]
        except ImportError as exc:
            raise ImportError(
                "wechatpayv3_client needs the wechatpayv3 SDK: pip install wechatpayv3"
            ) from exc
        common: dict[str, Any] = {
            "wechatpay_type": wechatpay_type if wechatpay_type is not None else WeChatPayType.MINIPROG,
            "mchid": merchant.mchid,
            "private_key": merchant.private_key_pem,
            "cert_serial_no": merchant.serial_no,
            "apiv3_key": merchant.apiv3_key,
            "appid": appid or merchant.appid,
            "notify_url": notify_url or "http://127.0.0.1:9/notify",
            "timeout": (5, 30),
            **options,
        }
        if merchant.key_mode == "pubkey":
            client = WeChatPay(**common, public_key=merchant.pub_key_pem, public_key_id=merchant.pub_key_id)
        else:
            client = WeChatPay(**common, cert_dir=str(merchant.cert_dir) + "/")
        client._core._gate_way = self.url
        return client

    def wechatpy_client(self, merchant: EmulatedMerchant, *, appid: str | None = None, **options: Any) -> Any:
        """A ``wechatpy.pay.WeChatPay`` (APIv2) of ``merchant`` pointed at this emulator."""
        try:
            from wechatpy.pay import WeChatPay as WeChatPayV2  # type: ignore[import-untyped]
        except ImportError as exc:
            raise ImportError("wechatpy_client needs the wechatpy SDK: pip install wechatpy") from exc
        options.setdefault("timeout", 10)
        options.setdefault("mch_cert", str(merchant.certificate_path))
        options.setdefault("mch_key", str(merchant.private_key_path))
        client = WeChatPayV2(appid or merchant.appid, merchant.api_key, merchant.mchid, **options)
        client.API_BASE_URL = self.url + "/"
        return client

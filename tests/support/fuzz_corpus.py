"""The fuzz campaign's generator: valid requests of every family (APIv3, APIv2, cloud hosting, CloudPay,
Mini Program, the control plane), mutated by a seeded RNG, and signed correctly after the mutation
most of the time (APIv3 RSA, APIv2 MD5), so a mutation reaches the code behind the signature check.

Used in process (test_fuzz_campaign.py, httpx.ASGITransport) and against a real server process.
A campaign starts with ``covering_calls`` (every request of the corpus once, and every odd text once),
then goes on with ``calls`` (requests drawn at random).
"""

from __future__ import annotations

import json
import random
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from wxpay_emulator.crypto import rsa_sign, v2_sign

OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
NOTIFY = "http://127.0.0.1:9/notify"
ENV = "env-fuzz"


@dataclass(frozen=True)
class Party:
    """What a merchant's SDK holds: numbers, its API key and its certificate's private key."""

    mchid: str
    appid: str
    serial_no: str
    key_pem: bytes
    api_key: str


@dataclass(frozen=True)
class Parties:
    direct: Party
    sp: Party
    sub: Party  # a sub-merchant of sp
    cloud_sub: Party  # a sub-merchant of the cloud provider
    known_trade_nos: tuple[str, ...]  # orders placed before the campaign (so queries find some)
    recent: list[str] = field(default_factory=list)  # numbers the campaign placed orders with

    def some_trade_no(self, rng: random.Random) -> str:
        """A number an order may have: placed before, or by an earlier request of the campaign."""
        if self.recent and rng.random() < 0.5:
            return rng.choice(self.recent[-50:])
        return rng.choice(self.known_trade_nos)

    def placing(self, no: str) -> str:
        self.recent.append(no)
        del self.recent[:-200]
        return no


@dataclass(frozen=True)
class Call:
    family: str
    method: str
    path: str
    headers: dict[str, str]
    content: bytes

    def describe(self) -> str:
        return f"{self.method} {self.path} {self.content[:300]!r}"


# --- values a mutation may put anywhere --------------------------------------------------------------

ODD_TEXT = [
    "",
    " ",
    "\ud800",
    "a\udfffb",
    "\x00",
    "a\x00b",
    "😀" * 40,
    "中文" * 100,
    "abc|def1",
    "abc@def1",
    "abc*def1",
    "../../x",
    "%00",
    "<![CDATA[x]]>",
    "]]>",
    "<x>",
    "&#xD800;",
    "not-an-ip",
    "1.2.3.256",
    "::1",
    "20301301000000",
    "20300101T000000+0800",
    "2030-01-01T00:00+08:00",
    "2030-01-01T00:00:00+08:00",
    "{}",
    '{"device_id":"D1"}',
    "[1,2]",
    "null",
    "x" * 7000,
    "9" * 40,
    "-1",
    "0",
    "1e309",
    "NaN",
    "CNY",
    "USD",
    "JSAPI",
    "NATIVE",
    "MWEB",
    "HMAC-SHA256",
]


def odd_value(rng: random.Random) -> Any:
    kind = rng.randrange(12)
    if kind < 5:
        return rng.choice(ODD_TEXT)
    if kind == 5:
        return rng.choice([0, -1, 1, 2**31 - 1, 2**31, 2**63, -(2**63), 10**30])
    if kind == 6:
        return rng.choice([1.5, -0.0, 1e308])
    if kind == 7:
        return rng.choice([True, False, None])
    if kind == 8:
        return [odd_value(rng) for _ in range(rng.randrange(3))]
    if kind == 9:
        return {rng.choice(["a", "device_id", "h5_info", "\ud800", ""]): odd_value(rng)}
    if kind == 10:
        nested: Any = 1
        for _ in range(rng.randrange(1, 60)):
            nested = [nested]
        return nested
    return "".join(chr(rng.randrange(1, 0x3000)) for _ in range(rng.randrange(1, 20)))


def mutate_mapping(rng: random.Random, data: dict[str, Any], depth: int = 0) -> dict[str, Any]:
    """1-3 changes: a field dropped, replaced by an odd value, added, or (for an object) mutated inside."""
    out = dict(data)
    for _ in range(rng.randint(1, 3)):
        keys = list(out)
        action = rng.randrange(5)
        if action == 0 and keys:
            del out[rng.choice(keys)]
        elif action in (1, 2) and keys:
            key = rng.choice(keys)
            if isinstance(out[key], dict) and depth < 3 and rng.random() < 0.6:
                out[key] = mutate_mapping(rng, out[key], depth + 1)
            elif isinstance(out[key], list) and out[key] and isinstance(out[key][0], dict) and depth < 3:
                items = list(out[key])
                i = rng.randrange(len(items))
                if isinstance(items[i], dict):
                    items[i] = mutate_mapping(rng, items[i], depth + 1)
                out[key] = items
            else:
                out[key] = odd_value(rng)
        elif action == 3:
            out[
                rng.choice(["x", "scene_info", "detail", "sub_mch_id", "sign_type", "nonce_str", "\ud800"])
            ] = odd_value(rng)
        else:
            if keys:
                key = rng.choice(keys)
                if isinstance(out[key], str):
                    out[key] = out[key] + rng.choice(["|", "@", "*", " ", "\x01", "é", "\ud800", "0" * 40])
    return out


def mutate_bytes(rng: random.Random, raw: bytes) -> bytes:
    action = rng.randrange(6)
    if action == 0 and raw:
        return raw[: rng.randrange(len(raw))]
    if action == 1 and raw:
        i = rng.randrange(len(raw))
        return raw[:i] + bytes([rng.randrange(256)]) + raw[i + 1 :]
    if action == 2:
        i = rng.randrange(len(raw) + 1)
        return raw[:i] + rng.choice([b"\xed\xa0\x80", b"\xff", b"\x00", b"\xc0\xaf", b"\\ud800"]) + raw[i:]
    if action == 3:
        return rng.choice([b"", b" ", b"null", b"[]", b"{", b"<xml>", b"<xml></xml>", b"\xff\xfe"])
    if action == 4:
        return raw * rng.randint(2, 4)
    return b"<!DOCTYPE x [<!ENTITY a 'b'>]><xml>&a;</xml>"


def json_bytes(data: Any) -> bytes:
    """JSON as an SDK would send it; lone surrogates go out as the raw bytes some encoders write."""
    return json.dumps(data, ensure_ascii=False).encode("utf-8", "surrogatepass")


# --- signing ------------------------------------------------------------------------------------------


def v3_call(rng: random.Random, party: Party, method: str, path: str, body: bytes) -> Call:
    stamp, nonce = str(int(time.time())), secrets.token_hex(16)
    message = rsa_sign.request_message(method, path, stamp, nonce, body)
    signature = rsa_sign.sign(party.key_pem, message)
    auth = (
        f'WECHATPAY2-SHA256-RSA2048 mchid="{party.mchid}",nonce_str="{nonce}",'
        f'signature="{signature}",timestamp="{stamp}",serial_no="{party.serial_no}"'
    )
    if rng.random() < 0.05:  # sometimes the header itself is what is mutated
        auth = rng.choice(
            [auth[: rng.randrange(len(auth))], auth.replace('"', ""), auth + ',x="\u00e9"', "x"]
        )
    headers = {"Authorization": auth, "Content-Type": "application/json", "Accept": "application/json"}
    return Call("v3", method, path, headers, body)


def v2_body(rng: random.Random, party: Party, fields: dict[str, Any], sandbox: bool = False) -> bytes:
    text = {k: v if isinstance(v, str) else json.dumps(v) for k, v in fields.items()}
    key = v2_sign.sandbox_key(party.api_key) if sandbox else party.api_key
    sign_type = text.get("sign_type", "MD5")
    try:
        text["sign"] = v2_sign.sign(text, key, sign_type if sign_type in ("MD5", "HMAC-SHA256") else "MD5")
    except (UnicodeEncodeError, ValueError):
        text["sign"] = "0" * 32
    inner = "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in text.items() if k.isidentifier())
    return f"<xml>{inner}</xml>".encode("utf-8", "surrogatepass")


# --- the valid requests -------------------------------------------------------------------------------


def trade_no(rng: random.Random) -> str:
    return "F" + "".join(rng.choice("0123456789abcdef") for _ in range(15))


V3_KINDS = ("jsapi", "app", "h5", "native")
V3_KIND_REQUESTS = 3  # the first three requests below (direct, partner, combine prepay) take the kind


def v3_requests(
    rng: random.Random, p: Parties, kind: str | None = None
) -> Iterator[tuple[Party, str, str, dict[str, Any] | None]]:
    d, sp, sub = p.direct, p.sp, p.sub
    known = p.some_trade_no(rng)
    amount = {"total": 10, "currency": "CNY"}
    scene = {"payer_client_ip": "14.17.22.32", "device_id": "POS1", "h5_info": {"type": "Wap"}}
    direct = {
        "appid": d.appid,
        "mchid": d.mchid,
        "description": "d",
        "out_trade_no": p.placing(trade_no(rng)),
        "notify_url": NOTIFY,
        "amount": amount,
        "payer": {"openid": OPENID},
        "scene_info": scene,
        "detail": {"goods_detail": [{"merchant_goods_id": "g", "quantity": 1, "unit_price": 1}]},
        "settle_info": {"profit_sharing": False},
        "time_expire": "2099-01-01T00:00:00+08:00",
        "attach": "a",
    }
    kind = kind or rng.choice(V3_KINDS)
    yield d, "POST", f"/v3/pay/transactions/{kind}", direct
    partner = {
        "sp_appid": sp.appid,
        "sp_mchid": sp.mchid,
        "sub_mchid": sub.mchid,
        "description": "d",
        "out_trade_no": trade_no(rng),
        "notify_url": NOTIFY,
        "amount": amount,
        "payer": {"sp_openid": OPENID},
        "scene_info": scene,
    }
    yield sp, "POST", f"/v3/pay/partner/transactions/{kind}", partner
    combine = {
        "combine_appid": d.appid,
        "combine_mchid": d.mchid,
        "combine_out_trade_no": trade_no(rng),
        "notify_url": NOTIFY,
        "scene_info": {"payer_client_ip": "::1", "device_id": "POS1"},
        "combine_payer_info": {"openid": OPENID},
        "sub_orders": [
            {
                "mchid": m,
                "attach": "a",
                "amount": {"total_amount": 10, "currency": "CNY"},
                "out_trade_no": trade_no(rng),
                "description": "d",
                "detail": "买单费用",
                "settle_info": {"profit_sharing": False},
            }
            for m in (d.mchid, d.mchid)
        ],
    }
    yield d, "POST", f"/v3/combine-transactions/{kind}", combine
    yield d, "GET", f"/v3/pay/transactions/out-trade-no/{known}?mchid={d.mchid}", None
    yield d, "GET", f"/v3/pay/transactions/id/4200000000000000000{rng.randrange(10)}?mchid={d.mchid}", None
    yield d, "POST", f"/v3/pay/transactions/out-trade-no/{known}/close", {"mchid": d.mchid}
    query = f"/v3/pay/partner/transactions/out-trade-no/{known}?sp_mchid={sp.mchid}&sub_mchid={sub.mchid}"
    yield sp, "GET", query, None
    yield d, "GET", f"/v3/combine-transactions/out-trade-no/{known}", None
    refund = {
        "out_trade_no": known,
        "out_refund_no": trade_no(rng),
        "reason": "r",
        "notify_url": NOTIFY,
        "funds_account": "AVAILABLE",
        "amount": {
            "refund": 1,
            "total": 10,
            "currency": "CNY",
            "from": [{"account": "AVAILABLE", "amount": 1}],
        },
        "goods_detail": [
            {"merchant_goods_id": "g", "unit_price": 1, "refund_amount": 1, "refund_quantity": 1}
        ],
    }
    yield d, "POST", "/v3/refund/domestic/refunds", refund
    yield d, "GET", f"/v3/refund/domestic/refunds/{trade_no(rng)}", None
    yield d, "GET", "/v3/certificates", None


def mutate_path(rng: random.Random, path: str) -> str:
    base, _, query = path.partition("?")
    parts = base.split("/")
    i = rng.randrange(1, len(parts))
    parts[i] = quote(str(odd_value(rng))[:80].encode("utf-8", "surrogatepass"), safe="")
    out = "/".join(parts)
    if query and rng.random() < 0.7:
        out += "?" + query
    if rng.random() < 0.3:
        out += ("&" if "?" in out else "?") + rng.choice(["mchid=", "mchid=%ED%A0%80", "x=%00", "offset=-1"])
    return out


def v3_call_of(rng: random.Random, p: Parties, entry: int | None = None, kind: str | None = None) -> Call:
    """A mutated APIv3 request: ``entry`` of v3_requests (default: one at random)."""
    requests = list(v3_requests(rng, p, kind))
    assert len(requests) == V3_REQUESTS
    party, method, path, body = rng.choice(requests) if entry is None else requests[entry]
    roll = rng.random()
    if body is not None and roll < 0.6:
        raw = json_bytes(mutate_mapping(rng, body))
    elif body is not None and roll < 0.75:
        raw = mutate_bytes(rng, json_bytes(body))
    else:
        raw = b"" if body is None else json_bytes(body)
        if roll >= 0.75:
            path = mutate_path(rng, path)
    return v3_call(rng, party, method, path, raw)


def v2_call_of(rng: random.Random, p: Parties, entry: int | None = None) -> Call:
    """A mutated APIv2 request: ``entry`` of the list below (default: one at random)."""
    d = p.direct
    known = p.some_trade_no(rng)
    base = {"appid": d.appid, "mch_id": d.mchid, "nonce_str": secrets.token_hex(8)}
    requests = [
        (
            "/pay/unifiedorder",
            {
                **base,
                "body": "b",
                "out_trade_no": p.placing(trade_no(rng)),
                "total_fee": "10",
                "spbill_create_ip": "123.12.12.123",
                "notify_url": NOTIFY,
                "trade_type": rng.choice(["JSAPI", "NATIVE", "MWEB", "APP"]),
                "openid": OPENID,
                "product_id": "p",
                "scene_info": '{"h5_info":{"type":"Wap"}}',
                "detail": "d",
                "time_expire": "20990101000000",
            },
        ),
        ("/pay/orderquery", {**base, "out_trade_no": known}),
        ("/pay/closeorder", {**base, "out_trade_no": known}),
        ("/pay/refundquery", {**base, "out_trade_no": known}),
        (
            "/secapi/pay/refund",
            {
                **base,
                "out_trade_no": known,
                "out_refund_no": trade_no(rng),
                "total_fee": "10",
                "refund_fee": "1",
            },
        ),
        ("/sandboxnew/pay/getsignkey", base),
    ]
    assert len(requests) == V2_REQUESTS
    path, fields = rng.choice(requests) if entry is None else requests[entry]
    sandbox = rng.random() < 0.15 and path != "/sandboxnew/pay/getsignkey" and not path.startswith("/secapi")
    if sandbox:
        path = "/sandboxnew" + path
    if rng.random() < 0.25:
        fields = {**fields, "sign_type": "HMAC-SHA256"}
    roll = rng.random()
    if roll < 0.7:
        raw = v2_body(rng, d, mutate_mapping(rng, fields), sandbox)
    elif roll < 0.9:
        raw = mutate_bytes(rng, v2_body(rng, d, fields, sandbox))
    else:
        raw = v2_body(rng, d, fields, sandbox)
        path = mutate_path(rng, path)
    return Call("v2", rng.choice(["POST"] * 9 + ["GET"]), path, {"Content-Type": "text/xml"}, raw)


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(x.title() for x in rest)


CLOUD_OPERATIONS = 5


def cloud_call_of(rng: random.Random, p: Parties, entry: int | None = None) -> Call:
    """A mutated cloud request: ``entry`` (0 to 2 * CLOUD_OPERATIONS - 1) is an operation, as cloud
    hosting (even) or as a cloud function (odd); default one at random."""
    sub = p.cloud_sub.mchid
    known = p.some_trade_no(rng)
    unified = {
        "sub_mch_id": sub,
        "body": "b",
        "out_trade_no": p.placing(trade_no(rng)),
        "total_fee": 10,
        "spbill_create_ip": "59.37.125.120",
        "env_id": ENV,
        "sub_openid": OPENID,
        "callback_type": 2,
        "container": {"service": "pay", "path": "/"},
        "function_name": "paycb",
        "scene_info": rng.choice(['{"store_info":{"id":"S1"}}', {"store_info": {"id": "S1"}}]),
        "detail": rng.choice(["买单费用", {"goods_detail": []}]),
        "time_expire": "20990101000000",
    }
    ref = {"sub_mch_id": sub, "out_trade_no": known}
    refund = {**ref, "out_refund_no": trade_no(rng), "total_fee": 10, "refund_fee": 1}
    ops = [("unifiedorder", "unifiedOrder", unified), ("queryorder", "queryOrder", ref)]
    ops += [
        ("closeorder", "closeOrder", ref),
        ("refund", "refund", refund),
        ("queryrefund", "queryRefund", ref),
    ]
    assert len(ops) == CLOUD_OPERATIONS
    if entry is None:
        hosting_op, function_op, body = rng.choice(ops)
        function = rng.random() < 0.5
    else:
        hosting_op, function_op, body = ops[entry // 2]
        function = entry % 2 == 1
    if function:
        body = {camel(k): v for k, v in body.items()}
        path = f"/_/cloudpay/{function_op}"
    else:
        path = f"/_/pay/{hosting_op}"
    roll = rng.random()
    raw = json_bytes(mutate_mapping(rng, body)) if roll < 0.75 else mutate_bytes(rng, json_bytes(body))
    headers = {"Content-Type": "application/json"}
    if rng.random() < 0.1:
        value = "".join(c for c in str(odd_value(rng))[:40] if c >= " " and c != "\x7f")  # no CR/LF/NUL
        headers["X-WX-APPID"] = value
    return Call("cloud", "POST", path, headers, raw)


MINIPROGRAM_REQUESTS = 3  # /cgi-bin/token, /cgi-bin/stable_token, /wxa/getpaidunionid


def miniprogram_call_of(rng: random.Random, p: Parties, entry: int | None = None) -> Call:
    params = {
        "grant_type": "client_credential",
        "appid": p.direct.appid,
        "secret": "s" * 32,
        "access_token": "t" * 20,
        "openid": OPENID,
        "transaction_id": "4200000000000000000",
        "mch_id": p.direct.mchid,
        "out_trade_no": p.some_trade_no(rng),
    }
    which = rng.randrange(MINIPROGRAM_REQUESTS) if entry is None else entry
    if which == 1:
        body = mutate_mapping(rng, {**params, "force_refresh": False})
        raw = json_bytes(body) if rng.random() < 0.8 else mutate_bytes(rng, json_bytes(body))
        return Call("miniprogram", "POST", "/cgi-bin/stable_token", {"Content-Type": "application/json"}, raw)
    path = "/cgi-bin/token" if which == 0 else "/wxa/getpaidunionid"
    mutated = mutate_mapping(rng, params)
    query = "&".join(
        f"{quote(str(k).encode('utf-8', 'surrogatepass'))}={quote(str(v).encode('utf-8', 'surrogatepass'))}"
        for k, v in mutated.items()
    )
    return Call("miniprogram", "GET", f"{path}?{query}", {}, b"")


def control_call_of(rng: random.Random, p: Parties, entry: int | None = None) -> Call:
    """A mutated control-plane request: ``entry`` of the list below (default: one at random)."""
    d = p.direct
    known = p.some_trade_no(rng)
    requests: list[tuple[str, str, dict[str, Any] | None]] = [
        ("POST", "/emulator/v1/payments", {"mchid": d.mchid, "out_trade_no": known, "result": "SUCCESS"}),
        ("POST", "/emulator/v1/payments", {"mchid": p.cloud_sub.mchid, "out_trade_no": known}),
        ("POST", "/emulator/v1/refunds", {"mchid": p.cloud_sub.mchid, "out_trade_no": known, "amount": 1}),
        ("POST", "/emulator/v1/payments", {"prepay_id": "wx" + "0" * 30, "openid": OPENID}),
        ("POST", "/emulator/v1/payments", {"combine_mchid": d.mchid, "combine_out_trade_no": known}),
        (
            "POST",
            "/emulator/v1/request-payment",
            {
                "appId": d.appid,
                "timeStamp": "1",
                "nonceStr": "n",
                "package": "prepay_id=wx1",
                "signType": "MD5",
                "paySign": "x",
            },
        ),
        ("POST", "/emulator/v1/refunds", {"mchid": d.mchid, "out_trade_no": known, "amount": 1}),
        ("POST", f"/emulator/v1/refunds/{trade_no(rng)}", {"mchid": d.mchid, "status": "SUCCESS"}),
        ("POST", "/emulator/v1/faults", {"operation": "pay.query", "code": "FREQUENCY_LIMITED", "count": 1}),
        ("POST", "/emulator/v1/clock", {"advance_seconds": 1}),
        ("POST", "/emulator/v1/cloud/functions", {"env_id": ENV, "function_name": "paycb", "url": NOTIFY}),
        ("POST", "/emulator/v1/cloud/services", {"env_id": ENV, "service": "pay", "url": NOTIFY}),
        ("POST", "/emulator/v1/apps", {"appid": d.appid, "mchid": d.mchid}),
        ("POST", "/emulator/v1/users", {"appid": d.appid}),
        ("POST", "/emulator/v1/notifications/x/redeliver", None),
        ("GET", "/emulator/v1/orders", None),
        ("GET", f"/emulator/v1/orders?mchid={d.mchid}", None),
        ("GET", "/emulator/v1/refunds", None),
        ("GET", "/emulator/v1/notifications", None),
        ("GET", f"/emulator/v1/merchants/{d.mchid}", None),
        ("GET", "/emulator/v1/faults", None),
        ("GET", "/emulator/v1/apps", None),
        ("GET", "/emulator/v1/cloud/functions", None),
        ("GET", "/emulator/v1/users/u1", None),
    ]
    assert len(requests) == CONTROL_REQUESTS
    method, path, body = rng.choice(requests) if entry is None else requests[entry]
    if body is None:
        path = mutate_path(rng, path) if rng.random() < 0.6 else path
        return Call("control", method, path, {}, b"")
    raw = json_bytes(mutate_mapping(rng, body)) if rng.random() < 0.8 else mutate_bytes(rng, json_bytes(body))
    return Call("control", method, path, {"Content-Type": "application/json"}, raw)


FAMILIES = {
    "v3": v3_call_of,
    "v2": v2_call_of,
    "cloud": cloud_call_of,
    "miniprogram": miniprogram_call_of,
    "control": control_call_of,
}
WEIGHTS = {"v3": 4, "v2": 3, "cloud": 3, "miniprogram": 1, "control": 2}


# Requests per family, so that covering_calls sends each (the *_call_of functions assert them).
V3_REQUESTS = 11
V2_REQUESTS = 6
CONTROL_REQUESTS = 24


def covering_calls(rng: random.Random, p: Parties) -> list[Call]:
    """Every request of the corpus once (each APIv3 kind-taking prepay in every kind, each cloud
    operation as hosting and as function), mutated as the campaign mutates; then every ``ODD_TEXT``
    value once, as a field of an APIv3 prepay (signed) or of a cloud unified order, in turn."""
    out: list[Call] = []
    for entry in range(V3_REQUESTS):
        for kind in V3_KINDS if entry < V3_KIND_REQUESTS else V3_KINDS[:1]:
            out.append(v3_call_of(rng, p, entry, kind))
    out += [v2_call_of(rng, p, entry) for entry in range(V2_REQUESTS)]
    out += [cloud_call_of(rng, p, entry) for entry in range(2 * CLOUD_OPERATIONS)]
    out += [miniprogram_call_of(rng, p, entry) for entry in range(MINIPROGRAM_REQUESTS)]
    out += [control_call_of(rng, p, entry) for entry in range(CONTROL_REQUESTS)]
    for i, text in enumerate(ODD_TEXT):
        if i % 2 == 0:
            party, method, path, body = next(v3_requests(rng, p, V3_KINDS[i // 2 % len(V3_KINDS)]))
            assert body is not None
            field = list(body)[i // 2 % len(body)]
            out.append(v3_call(rng, party, method, path, json_bytes({**body, field: text})))
        else:
            fields = {"sub_mch_id": p.cloud_sub.mchid, "body": "b", "out_trade_no": trade_no(rng),
                      "total_fee": 10, "spbill_create_ip": "59.37.125.120", "env_id": ENV,
                      "sub_openid": OPENID, "callback_type": 1, "function_name": "paycb"}  # fmt: skip
            field = list(fields)[i // 2 % len(fields)]
            raw = json_bytes({**fields, field: text})
            out.append(
                Call("cloud", "POST", "/_/pay/unifiedorder", {"Content-Type": "application/json"}, raw)
            )
    return out


def calls(rng: random.Random, p: Parties) -> Iterator[Call]:
    names = [name for name, weight in WEIGHTS.items() for _ in range(weight)]
    while True:
        yield FAMILIES[rng.choice(names)](rng, p)


def acceptable(status: int, body: bytes) -> bool:
    """No 5xx, except APIv3's documented 500 INVALID_TRANSACTIONID (a malformed transaction_id)."""
    if status < 500:
        return True
    try:
        return status == 500 and json.loads(body).get("code") == "INVALID_TRANSACTIONID"
    except (ValueError, AttributeError):
        return False

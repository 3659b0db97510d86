"""WeChat Cloud's pay families in tests: the cloud provider's parties (seed 001 / 003)."""

from __future__ import annotations

from dataclasses import dataclass

from tests.support.emulator import Emu
from wxpay_emulator.domain.cloud_pay import PROVIDER_MCHID, ensure_provider
from wxpay_emulator.domain.models import KeyMode, Merchant
from wxpay_emulator.domain.services import Domain

PROVIDER = PROVIDER_MCHID  # the cloud provider every emulator makes at start
MINI_APPID = "wxd2565e6a04246fd1"  # seed 001's Mini Program
SUB_MCHID = "1712734762"  # seed 001's sub_mch_id

# The seeds' own example orders: seed 001's cloud-hosting unifiedorder, seed 003's CloudPay unifiedOrder.
SEED_001 = {
    "body": "测试微信支付",
    "openid": "oZp5njTTsWaCeEoXi14oeOVCKlik",
    "out_trade_no": "2021WERUN1647840687637",
    "spbill_create_ip": "59.37.125.120",
    "env_id": "prod-66733tes755tabc",
    "sub_mch_id": SUB_MCHID,
    "total_fee": 1,
    "callback_type": 2,
    "container": {"service": "pay", "path": "/"},
}
SEED_003 = {
    "body": "小秋TIT店-超市",
    "outTradeNo": "1217752501201407033233368018",
    "spbillCreateIp": "127.0.0.1",
    "subMchId": "1900009231",
    "totalFee": 1,
    "envId": "test-f0b102",
    "functionName": "pay_cb",
}


@dataclass(frozen=True)
class Parties:
    sub: str  # a sub-merchant of the cloud provider, with MINI_APPID bound
    plain: str  # a direct merchant (not the provider's): NOAUTH
    provider_key: str


def make_parties(emu: Emu) -> Parties:
    """Seed 001's sub-merchant of the cloud provider (made once per emulator) and a new direct merchant,
    both bound to MINI_APPID, through the control plane (of a server process or of the app in process)."""
    provider = emu.control("GET", f"/merchants/{PROVIDER}")
    assert provider.status_code == 200, provider.text
    assert provider.json()["sp_mchid"] is None
    # An emulator shared by modules (tests/e2e/conftest.py) may hold seed 001's sub-merchant already.
    sub = emu.control("GET", f"/merchants/{SUB_MCHID}")
    if sub.status_code == 404:
        body = {"mchid": SUB_MCHID, "sp_mchid": PROVIDER, "appids": [MINI_APPID]}
        sub = emu.control("POST", "/merchants", json=body)
        assert sub.status_code == 201, sub.text
    assert sub.status_code in (200, 201), sub.text
    assert sub.json()["sp_mchid"] == PROVIDER and MINI_APPID in sub.json()["appids"], sub.json()
    plain = emu.control("POST", "/merchants", json={"appids": [MINI_APPID]})
    assert plain.status_code == 201, plain.text
    return Parties(SUB_MCHID, plain.json()["mchid"], provider.json()["api_key"])


@dataclass(frozen=True)
class DomainParties:
    provider: Merchant
    sub: Merchant  # a sub-merchant of the cloud provider, with ``appid`` bound
    plain: Merchant  # a direct merchant (not the provider's), with ``appid`` bound


def make_domain_parties(domain: Domain, appid: str) -> DomainParties:
    """The same parties made on the domain directly, for the unit tests of domain/cloud_pay.py."""
    provider = ensure_provider(domain.merchants)
    sub = domain.merchants.create(None, None, KeyMode.PUBKEY, (appid,), PROVIDER_MCHID)
    plain = domain.merchants.create(None, None, KeyMode.PUBKEY, (appid,))
    return DomainParties(provider, sub, plain)

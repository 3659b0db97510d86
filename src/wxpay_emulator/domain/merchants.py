"""Merchants and their key material.

A merchant holds three RSA keys, as at WeChat Pay: its own API key and certificate (it signs requests),
the platform certificate and the WeChat Pay public key (the platform signs answers with one of them,
chosen by ``key_mode``). The emulator keeps all of them so it can hand the merchant its files.
"""

from __future__ import annotations

import datetime as dt

from wxpay_emulator.clock import Clock
from wxpay_emulator.crypto import keys
from wxpay_emulator.domain.errors import DomainError, ErrorCode
from wxpay_emulator.domain.models import KeyMode, Merchant
from wxpay_emulator.domain.ports import Conflict, UnitOfWorkFactory
from wxpay_emulator.ids import Ids, valid_mchid


class MerchantService:
    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, ids: Ids, key_source: keys.KeySource | None = None
    ) -> None:
        self.uow = uow
        self.clock = clock
        self.ids = ids
        self.key_source: keys.KeySource = key_source or keys.GeneratedKeys()
        # Merchants never change once made, so a positive cache spares the auth path a query.
        self._cache: dict[str, Merchant] = {}

    def create(
        self,
        mchid: str | None = None,
        appid: str | None = None,
        key_mode: KeyMode = KeyMode.PUBKEY,
        extra_appids: tuple[str, ...] = (),
        sp_mchid: str | None = None,
    ) -> Merchant:
        for given, field in ((mchid, "mchid"), (sp_mchid, "sp_mchid")):
            if given is not None and not valid_mchid(given):
                raise DomainError(ErrorCode.PARAM_ERROR, f"{field} must be 6 to 32 digits", field=field)
        if sp_mchid is not None:
            provider = self.get(sp_mchid)
            if provider.sp_mchid is not None:
                raise DomainError(ErrorCode.PARAM_ERROR, "a sub-merchant cannot be a service provider")
        mchid = mchid or self.ids.mchid()
        appid = appid or self.ids.appid()
        # Certificates start a day back so that a clock skew between machines never makes them "future".
        start = self.clock.real_now() - dt.timedelta(days=1)
        merchant_key = self.key_source.private_key_pem()
        merchant_cert = keys.make_certificate(merchant_key, mchid, f"商户{mchid}", start, days=1825)
        platform_key = self.key_source.private_key_pem()
        platform_cert = keys.make_certificate(platform_key, "Tenpay.com", "Tenpay.com (emulated)", start)
        pubkey_key = self.key_source.private_key_pem()
        merchant = Merchant(
            mchid=mchid,
            appid=appid,
            key_mode=key_mode,
            serial_no=keys.certificate_serial(merchant_cert),
            apiv3_key=self.ids.secret(32),
            api_key=self.ids.secret(32),
            merchant_key_pem=merchant_key,
            merchant_cert_pem=merchant_cert,
            platform_key_pem=platform_key,
            platform_cert_pem=platform_cert,
            platform_serial=keys.certificate_serial(platform_cert),
            pubkey_key_pem=pubkey_key,
            pubkey_pem=keys.public_key_pem(pubkey_key),
            pub_key_id=self.ids.pub_key_id(),
            appids=tuple(a for a in dict.fromkeys(extra_appids) if a != appid),
            sp_mchid=sp_mchid,
        )
        try:
            with self.uow() as uow:
                repo = uow.merchants
                if repo.get(mchid) is not None:
                    raise DomainError(ErrorCode.MERCHANT_EXISTS, f"merchant {mchid} exists", field="mchid")
                repo.add(merchant, self.clock.real_now())
        except Conflict as exc:  # a concurrent create of the same mchid won
            raise DomainError(ErrorCode.MERCHANT_EXISTS, f"merchant {mchid} exists", field="mchid") from exc
        return merchant

    def get(self, mchid: str) -> Merchant:
        merchant = self.find(mchid)
        if merchant is None:
            raise DomainError(ErrorCode.MCH_NOT_EXISTS, "商户号不存在", field="mchid", value=mchid)
        return merchant

    def cached(self, mchid: str) -> Merchant | None:
        """The merchant if this process has already loaded it: no database, safe on the event loop."""
        return self._cache.get(mchid)

    def find(self, mchid: str) -> Merchant | None:
        cached = self._cache.get(mchid)
        if cached is not None:
            return cached
        with self.uow() as uow:
            merchant = uow.merchants.get(mchid)
        if merchant is not None:
            self._cache[mchid] = merchant
        return merchant

    def sub_merchant(self, sp_mchid: str, sub_mchid: str) -> tuple[Merchant, Merchant]:
        """The provider and its sub-merchant, as WeChat checks a partner call: both must exist and the
        sub-merchant must be bound to this provider (else NO_AUTH)."""
        provider = self.get(sp_mchid)
        sub = self.find(sub_mchid)
        if sub is None:
            raise DomainError(ErrorCode.MCH_NOT_EXISTS, "子商户号不存在", field="sub_mchid", value=sub_mchid)
        if sub.sp_mchid != provider.mchid:
            raise DomainError(
                ErrorCode.NO_AUTH, "子商户与服务商不存在绑定关系", field="sub_mchid", value=sub_mchid
            )
        return provider, sub

    def list(self) -> list[Merchant]:
        with self.uow() as uow:
            return uow.merchants.all()

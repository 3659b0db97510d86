"""Partner (服务商) domain rules: bindings between provider, sub-merchant and appids."""

from __future__ import annotations

import json

import pytest

from tests.support.domain import partner_draft, partner_parties
from wxpay_emulator.crypto import aead
from wxpay_emulator.domain.errors import DomainError, ErrorCode
from wxpay_emulator.domain.models import KeyMode, Merchant, PaymentResult
from wxpay_emulator.domain.services import Domain


@pytest.fixture
def parties(domain: Domain) -> tuple[Merchant, Merchant, Merchant]:
    made = partner_parties(domain)
    return made.provider, made.sub, made.stranger


@pytest.mark.both_databases
def test_partner_order_is_the_sub_merchants_and_notifies_the_provider(
    domain: Domain, parties: tuple[Merchant, Merchant, Merchant]
) -> None:
    provider, sub, _ = parties
    order = domain.orders.place(partner_draft(provider, sub))
    assert order.mchid == sub.mchid and order.sp_mchid == provider.mchid
    assert domain.orders.find(sub.mchid, out_trade_no="PARTNER001", sp_mchid=provider.mchid).id == order.id
    with pytest.raises(DomainError):  # not visible through the direct API
        domain.orders.find(sub.mchid, out_trade_no="PARTNER001")
    paid = domain.orders.pay(result=PaymentResult.SUCCESS, prepay_id=order.prepay_id)
    assert paid.sub_openid == "o-sub" and paid.payer_openid == "o-sp"
    [(n, _)] = domain.notifications.list(provider.mchid)
    assert n.mchid == provider.mchid
    res = json.loads(n.body)["resource"]
    plain = aead.decrypt(
        provider.apiv3_key.encode(), res["nonce"].encode(), res["associated_data"].encode(), res["ciphertext"]
    )
    resource = json.loads(plain)
    assert resource["sp_mchid"] == provider.mchid and resource["sub_mchid"] == sub.mchid
    assert resource["payer"] == {"sp_openid": "o-sp", "sub_openid": "o-sub"}
    assert domain.notifications.list(sub.mchid) == []


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"sp_mchid": "1234567890"}, ErrorCode.MCH_NOT_EXISTS),
        ({"mchid": "1234567890"}, ErrorCode.MCH_NOT_EXISTS),
        ({"appid": "wx0000000000000000"}, ErrorCode.APPID_MCHID_NOT_MATCH),
        ({"sub_appid": "wx0000000000000000"}, ErrorCode.APPID_MCHID_NOT_MATCH),
    ],
)
def test_binding_errors(
    domain: Domain, parties: tuple[Merchant, Merchant, Merchant], change: dict[str, str], code: ErrorCode
) -> None:
    provider, sub, _ = parties
    with pytest.raises(DomainError) as info:
        domain.orders.place(partner_draft(provider, sub, **change))
    assert info.value.code is code
    assert domain.orders.list(sub.mchid) == []


def test_a_sub_merchant_of_another_provider_is_no_auth(
    domain: Domain, parties: tuple[Merchant, Merchant, Merchant]
) -> None:
    _, sub, stranger = parties
    with pytest.raises(DomainError) as info:
        domain.orders.place(partner_draft(stranger, sub, appid=stranger.appid))
    assert info.value.code is ErrorCode.NO_AUTH
    with pytest.raises(DomainError) as info:
        domain.merchants.sub_merchant(stranger.mchid, sub.mchid)
    assert info.value.code is ErrorCode.NO_AUTH
    with pytest.raises(DomainError) as info:  # a sub-merchant cannot itself be a provider
        domain.merchants.create(None, None, KeyMode.PUBKEY, (), sub.mchid)
    assert info.value.code is ErrorCode.PARAM_ERROR


def test_close_is_scoped_to_the_provider(
    domain: Domain, parties: tuple[Merchant, Merchant, Merchant]
) -> None:
    provider, sub, _ = parties
    domain.orders.place(partner_draft(provider, sub))
    with pytest.raises(DomainError) as info:
        domain.orders.close(sub.mchid, "PARTNER001")  # the direct API does not see it
    assert info.value.code is ErrorCode.ORDER_NOT_EXIST
    assert domain.orders.close(sub.mchid, "PARTNER001", provider.mchid).state.value == "CLOSED"


def test_accept_then_the_debit_succeeds_or_fails(
    domain: Domain, parties: tuple[Merchant, Merchant, Merchant]
) -> None:
    provider, sub, _ = parties
    first = domain.orders.place(partner_draft(provider, sub, out_trade_no="ACCEPT001"))
    accepted = domain.orders.pay(result=PaymentResult.ACCEPT, prepay_id=first.prepay_id)
    assert accepted.state.value == "ACCEPT" and accepted.transaction_id is None
    assert domain.orders.pay(result=PaymentResult.SUCCESS, prepay_id=first.prepay_id).state.value == "SUCCESS"
    second = domain.orders.place(partner_draft(provider, sub, out_trade_no="ACCEPT002"))
    domain.orders.pay(result=PaymentResult.ACCEPT, prepay_id=second.prepay_id)
    assert (
        domain.orders.pay(result=PaymentResult.PAYERROR, prepay_id=second.prepay_id).state.value == "PAYERROR"
    )
    with pytest.raises(DomainError) as info:  # ACCEPT cannot go back to waiting for a password
        third = domain.orders.place(partner_draft(provider, sub, out_trade_no="ACCEPT003"))
        domain.orders.pay(result=PaymentResult.ACCEPT, prepay_id=third.prepay_id)
        domain.orders.pay(result=PaymentResult.USERPAYING, prepay_id=third.prepay_id)
    assert info.value.code is ErrorCode.ILLEGAL_TRANSITION

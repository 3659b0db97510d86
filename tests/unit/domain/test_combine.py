"""Seed 004's combine (合单) field rules, as properties.

The wire model (``CombinePrepayRequest``) holds the lengths, the alphabet and the counts; the domain
(on SQLite and PostgreSQL) holds the rules that need state: duplicate sub-order numbers, the one-minute
floor of ``time_expire`` and that ``time_expire`` is set once.
"""

from __future__ import annotations

import datetime as dt
import itertools
import string
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tests.support.combine import sub_order
from tests.support.domain import combine_parties
from wxpay_emulator.api.v3.wire_combine import CombinePrepayRequest
from wxpay_emulator.domain.errors import DomainError, ErrorCode
from wxpay_emulator.domain.models import (
    CombineDraft,
    KeyMode,
    Merchant,
    SubOrderDraft,
)
from wxpay_emulator.domain.services import Domain

ALPHABET = string.digits + string.ascii_letters + "_-|*"
INT32_MAX = 2**31 - 1
MIN_EXPIRE = dt.timedelta(minutes=1)
ONE_SECOND = dt.timedelta(seconds=1)

# Any character a JSON string can carry to the model (NUL is refused on its own: see wire/v3.py).
CHARS = st.characters(codec="utf-8", min_codepoint=1)

DOMAIN_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

_numbers = itertools.count()


def fresh(prefix: str) -> str:
    """An out_trade_no no earlier example of the test has used."""
    return f"{prefix}{next(_numbers):08d}"


# --- the wire model ------------------------------------------------------------------------------------


def sub_json(out_trade_no: str = "20150806125346", **changes: Any) -> dict[str, Any]:
    """Seed 004's example sub-order (mchid 1230000109, 10 fen, 深圳分店), with ``changes``."""
    sub = sub_order("1230000109", out_trade_no, 10, attach="深圳分店")
    sub.update(changes)
    return sub


def body_json(**changes: Any) -> dict[str, Any]:
    """Seed 004's request example."""
    body: dict[str, Any] = {
        "time_expire": "2000-01-01T00:00:00+08:00",
        "combine_appid": "wxd678efh567hg6787",
        "sub_orders": [sub_json("20150806125346"), sub_json("20150806125347", mchid="1230000119")],
        "combine_payer_info": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
        "combine_out_trade_no": "20150806125345",
        "notify_url": "https://yourapp.com/notify",
        "combine_mchid": "1900000109",
        "scene_info": {"device_id": "POS1:1", "payer_client_ip": "14.17.22.32"},
    }
    body.update(changes)
    return body


def accepted(body: dict[str, Any]) -> bool:
    try:
        CombinePrepayRequest.model_validate(body)
    except ValidationError:
        return False
    return True


def with_sub_field(name: str, value: Any, index: int = 0) -> dict[str, Any]:
    body = body_json()
    if value is None:
        del body["sub_orders"][index][name]
    else:
        body["sub_orders"][index][name] = value
    return body


def of_length(n: int) -> st.SearchStrategy[str]:
    """Strings of exactly ``n`` characters (built from a short random chunk, so 6000 stays fast)."""
    return st.text(CHARS, min_size=1, max_size=4).map(lambda chunk: (chunk * (n // len(chunk) + 1))[:n])


def test_seed_example_is_accepted() -> None:
    req = CombinePrepayRequest.model_validate(body_json())
    assert [s.out_trade_no for s in req.sub_orders] == ["20150806125346", "20150806125347"]


out_trade_nos = st.one_of(
    st.text(st.sampled_from(ALPHABET), max_size=40),
    st.text(st.one_of(st.sampled_from(ALPHABET), CHARS), max_size=40),
    st.text(st.sampled_from(ALPHABET), min_size=6, max_size=32).flatmap(
        lambda good: st.sampled_from([good + "\n", " " + good, good + "$", good + "。", good + "@"])
    ),
)


@given(out_trade_nos)
@example("123456")
@example("12345")
@example("a" * 32)
@example("a" * 33)
@example("abcdef\n")
@example("ab|c*d-e_f")
def test_combine_out_trade_no_accepted_iff_6_to_32_of_the_alphabet(value: str) -> None:
    expected = 6 <= len(value) <= 32 and all(c in ALPHABET for c in value)
    assert accepted(body_json(combine_out_trade_no=value)) is expected


@given(out_trade_nos, st.integers(0, 1))
@example("abcdef\n", 0)
def test_sub_order_out_trade_no_follows_the_same_rule(value: str, index: int) -> None:
    expected = 6 <= len(value) <= 32 and all(c in ALPHABET for c in value)
    assert accepted(with_sub_field("out_trade_no", value, index)) is expected


# field -> (maximum length, required): seed 004's string(N)
SUB_LIMITS = {
    "attach": (128, True),
    "description": (127, True),
    "detail": (6000, False),
    "goods_tag": (32, False),
}


@pytest.mark.parametrize("field", list(SUB_LIMITS))
def test_sub_order_text_limits(field: str) -> None:
    limit, required = SUB_LIMITS[field]

    @given(
        st.one_of(st.integers(0, limit + 40), st.sampled_from([0, 1, limit - 1, limit, limit + 1])).flatmap(
            of_length
        ),
        st.integers(0, 1),
    )
    def check(value: str, index: int) -> None:
        assert accepted(with_sub_field(field, value, index)) is (1 <= len(value) <= limit)

    check()
    assert accepted(with_sub_field(field, None)) is not required
    assert not accepted(with_sub_field(field, 12))


@pytest.mark.parametrize("field", [*SUB_LIMITS, "mchid", "out_trade_no"])
def test_nul_is_refused_in_sub_order_text(field: str) -> None:
    assert not accepted(with_sub_field(field, "abc\x00def"))


@given(st.integers(0, 14))
def test_sub_orders_count_accepted_iff_2_to_10(n: int) -> None:
    subs = [sub_json(f"SUB{i:06d}") for i in range(n)]
    assert accepted(body_json(sub_orders=subs)) is (2 <= n <= 10)


def test_sub_orders_must_be_a_list() -> None:
    body = body_json()
    del body["sub_orders"]
    assert not accepted(body)
    assert not accepted(body_json(sub_orders=None))
    assert not accepted(body_json(sub_orders=sub_json()))


@given(
    st.one_of(
        st.integers(-(2**40), 2**40),
        st.sampled_from([-1, 0, 1, INT32_MAX - 1, INT32_MAX, INT32_MAX + 1, 2**63]),
    ),
    st.integers(0, 1),
)
def test_total_amount_accepted_iff_positive_32_bit(total: int, index: int) -> None:
    body = with_sub_field("amount", {"total_amount": total, "currency": "CNY"}, index)
    assert accepted(body) is (1 <= total <= INT32_MAX)


@pytest.mark.parametrize("total", ["100", 100.0, True, None])
def test_total_amount_must_be_an_integer(total: Any) -> None:
    assert not accepted(with_sub_field("amount", {"total_amount": total, "currency": "CNY"}))


@given(
    st.one_of(st.none(), of_length(0), of_length(16), of_length(17), st.integers(0, 30).flatmap(of_length))
)
def test_device_id_at_most_16(device_id: str | None) -> None:
    scene: dict[str, Any] = {"payer_client_ip": "14.17.22.32"}
    if device_id is not None:
        scene["device_id"] = device_id
    expected = device_id is None or 1 <= len(device_id) <= 16
    assert accepted(body_json(scene_info=scene)) is expected


def test_scene_info_needs_payer_client_ip() -> None:
    assert not accepted(body_json(scene_info={"device_id": "POS1:1"}))
    assert accepted(body_json(scene_info=None)) is True  # optional as a whole (H5 is checked by the route)


# --- the domain (SQLite and PostgreSQL) -----------------------------------------------------------------


@pytest.fixture
def parties(domain: Domain) -> tuple[Merchant, Merchant]:
    """The initiator and a merchant bound to its appid."""
    return combine_parties(domain)


def sub_draft(mchid: str, out_trade_no: str, total: int = 10) -> SubOrderDraft:
    return SubOrderDraft(
        mchid=mchid,
        out_trade_no=out_trade_no,
        total=total,
        currency="CNY",
        attach="深圳分店",
        description="腾讯充值中心-QQ会员充值",
    )


def combine_draft(
    initiator: Merchant,
    subs: tuple[SubOrderDraft, ...],
    time_expire: dt.datetime | None = None,
    combine_out_trade_no: str | None = None,
) -> CombineDraft:
    return CombineDraft(
        combine_mchid=initiator.mchid,
        combine_appid=initiator.appid,
        combine_out_trade_no=combine_out_trade_no or fresh("C"),
        trade_type="APP",
        notify_url="http://127.0.0.1:1/notify",
        sub_orders=subs,
        family="v3",
        time_expire=time_expire,
        scene_info={"payer_client_ip": "14.17.22.32"},
    )


def two_fresh(initiator: Merchant, partner: Merchant) -> tuple[SubOrderDraft, ...]:
    return (sub_draft(initiator.mchid, fresh("A")), sub_draft(partner.mchid, fresh("B")))


def assert_no_order(domain: Domain, mchid: str, out_trade_no: str) -> None:
    with pytest.raises(DomainError) as info:
        domain.orders.find(mchid, out_trade_no=out_trade_no)
    assert info.value.code is ErrorCode.ORDER_NOT_EXIST


@pytest.mark.both_databases
@DOMAIN_SETTINGS
@given(
    st.lists(st.tuples(st.integers(0, 1), st.sampled_from("ABCD")), min_size=2, max_size=10),
)
def test_duplicate_sub_orders_are_refused_and_nothing_is_written(
    domain: Domain, parties: tuple[Merchant, Merchant], keys: list[tuple[int, str]]
) -> None:
    """Refused iff two sub-orders share an out_trade_no, under one merchant or two (seed 004: unique
    under the combine_mchid). A refusal writes neither the combine order nor any sub-order."""
    prefix = fresh("D")
    subs = tuple(sub_draft(parties[who].mchid, f"{prefix}{suffix}") for who, suffix in keys)
    draft = combine_draft(parties[0], subs)
    pairs = [(s.mchid, s.out_trade_no) for s in subs]
    numbers = [s.out_trade_no for s in subs]
    first_repeat = next((i for i, key in enumerate(numbers) if key in numbers[:i]), None)
    if first_repeat is None:
        placed = domain.combines.place(draft)
        assert [(o.mchid, o.out_trade_no) for o in placed.sub_orders] == pairs
        return
    with pytest.raises(DomainError) as info:
        domain.combines.place(draft)
    assert info.value.code is ErrorCode.PARAM_ERROR
    assert info.value.field == f"sub_orders.{first_repeat}.out_trade_no"
    with pytest.raises(DomainError) as missing:
        domain.combines.find(draft.combine_mchid, draft.combine_out_trade_no)
    assert missing.value.code is ErrorCode.ORDER_NOT_EXIST
    for mchid, out_trade_no in set(pairs):
        assert_no_order(domain, mchid, out_trade_no)


@pytest.mark.parametrize("n", [0, 1, 11])
def test_sub_order_count_outside_2_to_10_is_refused(
    domain: Domain, parties: tuple[Merchant, Merchant], n: int
) -> None:
    initiator, _ = parties
    subs = tuple(sub_draft(initiator.mchid, fresh("N")) for _ in range(n))
    with pytest.raises(DomainError) as info:
        domain.combines.place(combine_draft(initiator, subs))
    assert info.value.code is ErrorCode.PARAM_ERROR
    for sub in subs:
        assert_no_order(domain, sub.mchid, sub.out_trade_no)


# Seconds from "now" to the requested time_expire: far in the past, around the one-minute floor, later.
expire_offsets = st.one_of(
    st.integers(-20 * 365 * 86400, 30 * 86400),
    st.integers(-5, 125),
    st.floats(55, 65, allow_nan=False),
)


@DOMAIN_SETTINGS
@given(expire_offsets, st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=8))]))
@example(-(10**6), dt.UTC)
@example(59, dt.UTC)
@example(61.5, dt.UTC)
def test_time_expire_before_one_minute_is_raised_to_one_minute_later_values_kept(
    domain: Domain, parties: tuple[Merchant, Merchant], offset: float, zone: dt.tzinfo
) -> None:
    before = domain.clock.now()
    requested = (before + dt.timedelta(seconds=offset)).astimezone(zone)
    placed = domain.combines.place(combine_draft(parties[0], two_fresh(*parties), requested))
    after = domain.clock.now()
    got = placed.time_expire
    assert got is not None
    if requested < before + MIN_EXPIRE:
        # Raised to exactly one minute after creation (creation lies between before and after).
        assert before + MIN_EXPIRE <= got <= after + MIN_EXPIRE
        assert abs(got - (before + MIN_EXPIRE)) <= ONE_SECOND
    elif requested >= after + MIN_EXPIRE:
        assert got == requested
    else:  # created within the floor's own window: either is "one minute after creation"
        assert requested <= got <= after + MIN_EXPIRE
    # Every sub-order carries the combine order's time_expire.
    assert [o.time_expire for o in placed.sub_orders] == [got, got]
    # The prepay_id lives two hours, but not past time_expire.
    assert placed.prepay_expires_at <= got
    assert placed.prepay_expires_at <= after + dt.timedelta(hours=2)


# None (no time_expire) or seconds from now.
maybe_offsets = st.one_of(st.none(), st.integers(-3 * 86400, 3 * 86400), st.integers(-90, 90))


@DOMAIN_SETTINGS
@given(maybe_offsets, st.one_of(st.none(), st.integers(-86400, 86400).filter(lambda d: d != 0)))
@example(-3600, None)  # a past value (raised) re-sent unchanged
@example(None, 60)
@example(3600, 1)
def test_reentry_with_a_changed_time_expire_is_refused(
    domain: Domain, parties: tuple[Merchant, Merchant], first: int | None, delta: int | None
) -> None:
    """delta None: the same time_expire again (same prepay_id); otherwise a different one, or none at
    all where there was one (and one where there was none): refused with OUT_TRADE_NO_USED."""
    base = domain.clock.now().replace(microsecond=0)
    first_expire = None if first is None else base + dt.timedelta(seconds=first)
    subs = two_fresh(*parties)
    combine_out_trade_no = fresh("R")
    placed = domain.combines.place(combine_draft(parties[0], subs, first_expire, combine_out_trade_no))

    if delta is None:
        again = domain.combines.place(combine_draft(parties[0], subs, first_expire, combine_out_trade_no))
        assert (again.id, again.prepay_id) == (placed.id, placed.prepay_id)
        return
    if first_expire is None:
        second_expire: dt.datetime | None = base + dt.timedelta(seconds=delta)
    elif delta % 2:
        second_expire = first_expire + dt.timedelta(seconds=delta)
    else:
        second_expire = None
    with pytest.raises(DomainError) as info:
        domain.combines.place(combine_draft(parties[0], subs, second_expire, combine_out_trade_no))
    assert info.value.code is ErrorCode.OUT_TRADE_NO_USED
    # Nothing changed: same prepay_id, same time_expire.
    found = domain.combines.find(parties[0].mchid, combine_out_trade_no)
    assert (found.prepay_id, found.time_expire) == (placed.prepay_id, placed.time_expire)


def test_reentry_with_the_raised_time_expire_is_a_change(
    domain: Domain, parties: tuple[Merchant, Merchant]
) -> None:
    """The merchant sent a past time_expire and WeChat raised it: sending the raised value is a change
    of the parameter, so refused; sending the original value again is the same order."""
    subs = two_fresh(*parties)
    past = dt.datetime(2000, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    placed = domain.combines.place(combine_draft(parties[0], subs, past, "RAISED01"))
    assert placed.time_expire is not None
    with pytest.raises(DomainError) as info:
        domain.combines.place(combine_draft(parties[0], subs, placed.time_expire, "RAISED01"))
    assert info.value.code is ErrorCode.OUT_TRADE_NO_USED
    again = domain.combines.place(combine_draft(parties[0], subs, past, "RAISED01"))
    assert again.prepay_id == placed.prepay_id
    domain.advance_clock(61)
    with pytest.raises(DomainError) as expired:
        domain.combines.place(combine_draft(parties[0], subs, past, "RAISED01"))
    assert expired.value.code is ErrorCode.ORDER_EXPIRED


def test_combine_sub_orders_are_invisible_to_the_direct_api(domain: Domain, merchant: Merchant) -> None:
    other = domain.merchants.create(None, None, KeyMode.PUBKEY, (merchant.appid,))
    sub = SubOrderDraft(
        mchid=merchant.mchid, out_trade_no="SUBA000001", total=1, currency="CNY", attach="a", description="d"
    )
    draft = CombineDraft(
        combine_mchid=merchant.mchid,
        combine_appid=merchant.appid,
        combine_out_trade_no="COMBINE001",
        trade_type="APP",
        notify_url="http://127.0.0.1:1/n",
        sub_orders=(sub, replace(sub, mchid=other.mchid, out_trade_no="SUBB000001")),
        family="v3",
    )
    domain.combines.place(draft)
    for call in (
        lambda: domain.orders.find(merchant.mchid, out_trade_no="SUBA000001"),
        lambda: domain.orders.close(merchant.mchid, "SUBA000001"),
    ):
        with pytest.raises(DomainError) as info:
            call()
        assert info.value.code is ErrorCode.ORDER_NOT_EXIST
    states = [o.state.value for o in domain.combines.find(merchant.mchid, "COMBINE001").sub_orders]
    assert states == ["NOTPAY", "NOTPAY"]

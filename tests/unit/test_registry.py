"""The family registry: what create_app, the fault table, OpenAPI tags and docs/coverage.md derive from."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.routing import APIRoute

from wxpay_emulator import coverage
from wxpay_emulator.api.faults import Faults, api_routes, operation_of, tag_of
from wxpay_emulator.families import Family, notification_family
from wxpay_emulator.ids import Ids
from wxpay_emulator.notify.protocols import CLOUD, PROTOCOLS, V2, V3
from wxpay_emulator.registry import FAMILIES, delivery_of, operations, spec_of, tag_titles

REPO = Path(__file__).resolve().parents[2]

# The operations POST /emulator/v1/faults accepted before they were derived from the routes: a route
# that loses its declaration (or a new one that forgets it) shows here.
ARMABLE = {
    "pay.prepay", "pay.query", "pay.close", "partner.prepay", "partner.query", "partner.close",
    "combine.prepay", "combine.query", "combine.close", "certificates", "refund.create", "refund.query",
    "v2.unifiedorder", "v2.orderquery", "v2.closeorder", "v2.refund", "v2.refundquery", "v2.getsignkey",
    "cloud.unifiedorder", "cloud.queryorder", "cloud.closeorder", "cloud.refund", "cloud.queryrefund",
    "cloudpay.unifiedOrder", "cloudpay.queryOrder", "cloudpay.closeOrder", "cloudpay.refund",
    "cloudpay.queryRefund", "mp.token", "mp.stable_token", "mp.getpaidunionid",
}  # fmt: skip


def test_docs_coverage_is_generated_from_the_routes() -> None:
    written = (REPO / "docs" / "coverage.md").read_text(encoding="utf-8")
    assert written == coverage.render(), "docs/coverage.md is stale: run python -m wxpay_emulator.coverage"


def test_coverage_check_fails_on_a_stale_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = tmp_path / "coverage.md"
    stale.write_text("# Coverage\n", encoding="utf-8")
    monkeypatch.setattr(coverage, "DOC", stale)
    assert coverage.main(["--check"]) == 1
    assert coverage.main([]) == 0
    assert coverage.main(["--check"]) == 0


def test_faults_are_derived_from_the_routes_declared_operations() -> None:
    faults = Faults.from_routes((spec.router().routes, spec.fault_codes, spec.tampers) for spec in FAMILIES)
    assert set(faults.codes) == ARMABLE
    assert "SYSTEM_ERROR" in faults.codes["pay.prepay"] and "SYSTEMERROR" in faults.codes["v2.refund"]
    assert "BIZERR_NEED_RETRY" not in faults.codes["pay.prepay"]
    assert "APPID_NOT_EXIST" in faults.codes["cloud.unifiedorder"] and "-1" in faults.codes["mp.token"]
    with pytest.raises(ValueError, match="unknown code"):
        faults.arm("cloud.unifiedorder", "SYSTEM_ERROR", 1)  # APIv3's spelling, not seed 001's
    with pytest.raises(ValueError, match="unknown operation"):
        faults.arm("cloud.unifiedOrder", "SYSTEMERROR", 1)


def test_each_family_ends_with_its_own_catch_all() -> None:
    routes = list(api_routes(spec_of(Family.V3).router().routes))
    assert routes[-1].path == "/v3/{rest:path}"
    assert all("{rest:path}" not in r.path for r in routes[:-1])


def test_no_two_families_serve_the_same_path_or_prefix() -> None:
    owner: dict[tuple[str, str], str] = {}
    for spec in FAMILIES:
        for route in api_routes(spec.router().routes):
            for method in route.methods:
                assert (route.path, method) not in owner, (route.path, owner.get((route.path, method)))
                owner[(route.path, method)] = spec.name
    prefixes = [(p, spec.name) for spec in FAMILIES for shape in spec.shapes for p in shape.prefixes]
    for p, name in prefixes:
        for q, other in prefixes:
            if name != other:
                assert not p.startswith(q), (p, name, q, other)


def test_every_declared_operation_is_on_an_api_route() -> None:
    for spec in FAMILIES:
        for route in api_routes(spec.router().routes):
            assert isinstance(route, APIRoute)
            if operation_of(route) is None:
                assert route.path == "/v3/{rest:path}" or spec_of(Family.CONTROL) is spec, route.path


def test_every_family_that_renders_notifications_has_a_delivery_protocol() -> None:
    ids = Ids()
    for spec in FAMILIES:
        rendered = {*spec.payment_renderers(ids), *spec.refund_renderers(ids)}
        for stored in rendered:
            assert Family(stored) in spec.families
            assert delivery_of(Family(stored)) is PROTOCOLS[Family(stored)]


@pytest.mark.parametrize(
    ("kind", "family", "protocol"),
    [
        ("v3", Family.V3, V3),
        ("v3combine", Family.V3, V3),
        ("v3refund", Family.V3, V3),
        ("v2", Family.V2, V2),
        ("v2refund", Family.V2, V2),
        ("cloud", Family.CLOUD_HOSTING, CLOUD),
        ("cloudrefund", Family.CLOUD_HOSTING, CLOUD),
        ("cloudfn", Family.CLOUD_FUNCTION, CLOUD),
        ("cloudfnrefund", Family.CLOUD_FUNCTION, CLOUD),
    ],
)
def test_stored_notification_kinds_map_to_their_family(kind: str, family: Family, protocol: object) -> None:
    assert notification_family(kind) is family
    assert PROTOCOLS[family] is protocol


def test_an_unknown_notification_kind_is_refused() -> None:
    with pytest.raises(ValueError):
        notification_family("v4")


def test_every_route_answers_json_through_safejson_by_default(tmp_path: Path) -> None:
    """Routes are attached as declared (api/family.attach), so the app's default response class must
    already be theirs: safejson's, which encodes lone surrogates and NaN instead of failing."""
    from fastapi.datastructures import DefaultPlaceholder
    from fastapi.responses import JSONResponse as FastAPIJSONResponse
    from starlette.responses import JSONResponse as StarletteJSONResponse

    from wxpay_emulator.api.safejson import JSONResponse
    from wxpay_emulator.app import create_app
    from wxpay_emulator.config import Settings

    app = create_app(Settings(data_dir=tmp_path / "data"))
    routes = [r for r in app.routes if isinstance(r, APIRoute)]
    assert len(routes) > 100

    def effective(route: APIRoute) -> object:
        cls = route.response_class
        return cls.value if isinstance(cls, DefaultPlaceholder) else cls

    plain = {r.path for r in routes if effective(r) in (StarletteJSONResponse, FastAPIJSONResponse)}
    assert plain == set(), sorted(plain)
    assert sum(effective(r) is JSONResponse for r in routes) > 100


def test_every_tag_a_route_carries_has_a_title_of_its_own_family() -> None:
    """/emulator/docs names each group by its tag's title (dashboard/docs.py): a family whose operations
    carry a tag it gives no title (``cloudpay`` once) would show an untitled group."""
    for spec, _route, name in operations():
        assert tag_of(name) in dict(spec.tags), (spec.name, name)
    titles = tag_titles()
    assert len(titles) == sum(len(spec.tags) for spec in FAMILIES), "a tag is named by two families"
    assert all(titles.values()) and len(set(titles.values())) == len(titles), titles
    order = list(titles)
    assert order[0] == "pay" and order[-1] == "emulator"
    assert titles["cloudpay"] and "CloudPay" not in titles["cloud"]

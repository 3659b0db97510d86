"""The APIv2, cloud, Mini Program and refund flows again, with the store on PostgreSQL.

The tests are those of their own modules, imported here: pytest resolves their fixtures in this module,
whose ``emulator_database_url`` is a fresh PostgreSQL database (created and dropped by the fixtures of
tests/e2e/server/test_postgres.py, which fail in CI when the server is not there and skip with the
reason elsewhere).
"""

from __future__ import annotations

import json

import pytest

from tests.e2e.cloud.test_flow import (
    cloud_receiver,
    parties,
    test_callback_waits_for_its_function_to_be_registered,
    test_seed_001_unified_order_pay_and_callback_retried_until_errcode_0,
    test_seed_003_cloud_function_unified_order_query_close,
)
from tests.e2e.cloud.test_refund import (
    test_cloud_function_refund_camel_case_and_closed_refund,
    test_hosting_partial_refunds_query_callbacks_and_order_state,
    test_hosting_refusals,
)
from tests.e2e.miniprogram.test_getpaidunionid import (
    mp_merchant,
    test_every_error_code,
    test_getpaidunionid_by_both_lookups_until_five_minutes_pass,
    test_one_user_has_one_unionid_across_two_apps,
)
from tests.e2e.server.test_hostile_input import test_v2_refund_inputs
from tests.e2e.server.test_postgres import database_name, emulator_database_url
from tests.e2e.v2.test_flow import (
    make_v2,
    test_business_codes,
    test_partner_mode,
    test_payment_notification_md5_parsed_by_wechatpy,
    test_sandbox_switch,
    test_unifiedorder_pay_query_close,
)
from tests.e2e.v2.test_refund import (
    DELAY,
    test_abnormal_refund_and_v3_order,
    test_partial_refunds_query_and_notification,
    test_refund_rules,
)
from tests.support.common import FAST_NOTIFY
from tests.support.emulator import Emu

pytestmark = pytest.mark.postgres

__all__ = [
    "cloud_receiver",
    "database_name",
    "emulator_database_url",
    "make_v2",
    "mp_merchant",
    "parties",
    "test_abnormal_refund_and_v3_order",
    "test_business_codes",
    "test_callback_waits_for_its_function_to_be_registered",
    "test_cloud_function_refund_camel_case_and_closed_refund",
    "test_every_error_code",
    "test_getpaidunionid_by_both_lookups_until_five_minutes_pass",
    "test_hosting_partial_refunds_query_callbacks_and_order_state",
    "test_hosting_refusals",
    "test_one_user_has_one_unionid_across_two_apps",
    "test_partial_refunds_query_and_notification",
    "test_partner_mode",
    "test_payment_notification_md5_parsed_by_wechatpy",
    "test_refund_rules",
    "test_sandbox_switch",
    "test_seed_001_unified_order_pay_and_callback_retried_until_errcode_0",
    "test_seed_003_cloud_function_unified_order_query_close",
    "test_unifiedorder_pay_query_close",
    "test_v2_refund_inputs",
]


@pytest.fixture(scope="module")
def emulator_env() -> dict[str, str]:
    # The refund modules' delay (both use 60 s of business clock before a refund succeeds).
    return {**FAST_NOTIFY, "WXPAY_EMULATOR_REFUND_DELAY_SECONDS": str(DELAY)}


def test_the_store_is_postgresql(emu: Emu) -> None:
    health = emu.control("GET", "/health")
    assert health.status_code == 200 and "postgresql" in json.dumps(health.json()), health.text

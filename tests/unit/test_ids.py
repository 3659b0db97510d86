from __future__ import annotations

import datetime as dt
import random
import re

from wxpay_emulator.ids import Ids

NOW = dt.datetime(2026, 11, 23, 4, 5, 6, tzinfo=dt.UTC)


def test_shapes_follow_wechat() -> None:
    ids = Ids(random.Random(7))
    assert re.fullmatch(r"4200\d{6}20261123\d{10}", ids.transaction_id(NOW))
    prepay = ids.prepay_id(NOW)
    assert re.fullmatch(r"wx20261123120506[0-9a-f]{20}", prepay) and len(prepay) == 36
    assert len(ids.gcm_nonce()) == 12
    assert re.fullmatch(r"PUB_KEY_ID_\d{24}", ids.pub_key_id())
    assert re.fullmatch(r"19\d{8}", ids.mchid())


def test_seeded_ids_repeat() -> None:
    a, b = Ids(random.Random(1)), Ids(random.Random(1))
    assert [a.nonce(), a.notification_id()] == [b.nonce(), b.notification_id()]

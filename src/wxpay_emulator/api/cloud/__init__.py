"""Cloud hosting (``/_/pay/*``, seed 001) and cloud functions (``/_/cloudpay/*``, seed 003)."""

from __future__ import annotations

from pathlib import Path

from wxpay_emulator.domain.cloud_pay import ensure_provider
from wxpay_emulator.domain.models import Merchant
from wxpay_emulator.domain.services import Domain
from wxpay_emulator.material import write_material


def ensure_cloud_provider(domain: Domain, data_dir: Path) -> Merchant:
    """At startup: the emulator-owned cloud provider merchant (1800780001) and its files."""
    provider = ensure_provider(domain.merchants)
    write_material(data_dir, provider)
    return provider

"""What an order (or refund) keeps "as given" besides the domain's own fields, typed.

Every family writes its extras through :class:`OrderExtras` (:meth:`OrderExtras.stored`), so the stored
form is one: ``scene_info`` and ``settle_info`` are JSON objects whether the family took them as an
object (APIv3, CloudPay) or as a JSON string (APIv2 MWEB, seed 001's "String(256) ... 该字段为JSON对象数据");
``detail`` is an object when it was one (or a JSON string holding one), else the text as given.

Every renderer reads extras through :meth:`OrderExtras.read` (and :meth:`RefundExtras.read`), which takes
any row, including those written by older versions (a ``scene_info`` stored as a string, a field of an
unexpected type): what cannot be read is left out, never an error. The domain stores the mapping and
never reads it.

A base module (import-linter contract "base"): pydantic and ``wire`` only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError, field_validator

from wxpay_emulator.wire import json_object, reject_nul_deep


def _object_or_none(value: Any) -> dict[str, Any] | None:
    try:
        return json_object(value)
    except ValueError:
        return None


def _detail(value: Any) -> dict[str, Any] | str:
    """An object stays an object; a JSON string holding an object becomes it; other text is kept."""
    if isinstance(value, dict):
        return json_object(value)
    if isinstance(value, str):
        found = _object_or_none(value) if value.lstrip().startswith("{") else None
        reject_nul_deep(value)
        return found if found is not None else value
    raise ValueError("must be text or a JSON object")


class OrderExtras(BaseModel):
    """An order's extras: the union of what the families keep (each family sets its own)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    device_info: str | None = None  # APIv2, cloud
    detail: dict[str, Any] | str | None = None  # every family: object (APIv3) or text / JSON text
    scene_info: dict[str, Any] | None = None  # object, or a JSON string holding one
    settle_info: dict[str, Any] | None = None  # APIv3, combine sub-orders
    support_fapiao: bool | None = None  # APIv3
    product_id: str | None = None  # APIv2 NATIVE
    limit_pay: str | None = None  # APIv2, cloud
    receipt: str | None = None  # APIv2, cloud
    time_start: str | None = None  # cloud (yyyyMMddHHmmss as given)
    spbill_create_ip: str | None = None  # cloud
    sign_type: str | None = None  # APIv2: how the merchant signs, so its answers are signed alike
    sandbox: bool | None = None  # APIv2: placed through the simulation system

    @field_validator("detail", mode="before")
    @classmethod
    def _detail_form(cls, value: Any) -> Any:
        return None if value is None else _detail(value)

    @field_validator("scene_info", "settle_info", mode="before")
    @classmethod
    def _object_form(cls, value: Any) -> Any:
        return None if value is None else json_object(value)

    @classmethod
    def given(cls, **fields: Any) -> OrderExtras:
        """From a family's request: fields that are None are absent. ValueError (pydantic's
        ValidationError) when a field is in none of its documented forms."""
        return cls.model_validate({k: v for k, v in fields.items() if v is not None})

    @classmethod
    def read(cls, stored: Any) -> OrderExtras:
        """Whatever a row holds (any version, any type): each field that reads is kept, others left out."""
        if isinstance(stored, str):  # a whole extras column kept as text
            try:
                stored = json.loads(stored)
            except (ValueError, RecursionError):
                return cls()
        if not isinstance(stored, Mapping):
            return cls()
        kept: dict[str, Any] = {}
        for name in cls.model_fields:
            value = stored.get(name)
            if value is None:
                continue
            try:
                checked = cls.model_validate({name: value})
            except (ValidationError, ValueError, TypeError):
                continue
            kept[name] = getattr(checked, name)
        return cls.model_construct(**kept)

    def stored(self) -> dict[str, Any]:
        """The canonical stored form (part of the re-entry fingerprint, as at WeChat)."""
        return self.model_dump(exclude_none=True)

    @property
    def device_id(self) -> str | None:
        """``scene_info.device_id`` (APIv3 answers repeat it), when it is text."""
        value = (self.scene_info or {}).get("device_id")
        return value if isinstance(value, str) and value else None


_SOURCES = TypeAdapter(list[dict[str, Any]])


class RefundExtras(BaseModel):
    """A refund's extras: APIv3's ``amount.from`` and ``goods_detail``, APIv2's ``refund_account``."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    sources: list[dict[str, Any]] = []
    refund_account: str | None = None

    @classmethod
    def read(cls, stored: Any) -> RefundExtras:
        if not isinstance(stored, Mapping):
            return cls()
        sources: list[dict[str, Any]] = []
        try:
            sources = _SOURCES.validate_python(stored.get("from") or [])
        except ValidationError:
            sources = []
        account = stored.get("refund_account")
        return cls(sources=sources, refund_account=account if isinstance(account, str) else None)

"""Enum checks through the SDK: requested values that are all allowed grant, any other denies
with REQUESTED_VALUES_MISMATCH; the answer echoes the requested values and lists the allowed
ones, in the typed and the generic getter."""

from __future__ import annotations

from typing import Any

import pytest

from tests import stigg_sdk


def _enum(sdk: stigg_sdk.SdkClient, method: str, values: list[str]) -> dict[str, Any]:
    request = {"customer_id": "customer-pro", "feature_id": "feature-data-region"}
    if values:
        request["options"] = {"requested_values": values}
    return sdk.response(method, request)


@pytest.mark.parametrize(
    ("values", "granted"),
    [([], True), (["eu"], True), (["us", "eu"], True), (["ap"], False), (["eu", "ap"], False)],
)
def test_requested_values_against_the_allowed_ones(
    module_sdk: stigg_sdk.SdkClient, values: list[str], granted: bool
) -> None:
    answer = _enum(module_sdk, "GetEnumEntitlement", values)
    assert answer["has_access"] is granted
    assert answer["access_denied_reason"] == (
        None if granted else "ACCESS_DENIED_REASON_REQUESTED_VALUES_MISMATCH"
    )
    assert (answer["requested_values"], answer["entitlement"]["enum_values"]) == (values, ["us", "eu"])
    generic = _enum(module_sdk, "GetEntitlement", values)
    assert (generic["has_access"], generic["enum"]["enum_values"]) == (granted, ["us", "eu"])

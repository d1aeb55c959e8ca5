"""Our wire contract is field for field the one in Stigg's newest Python sidecar SDK
(``stigg-sidecar-sdk`` 8.1.0, betterproto): every message, field (name, number, type,
repeated, map, proto3 ``optional``, oneof, deprecated), enum value and method, read off the
SDK's generated classes (``tests/stigg_sdk``) and compared with our descriptors. A failure
lists every difference at once.
"""

from __future__ import annotations

from typing import Any

import pytest

from stigg_sidecar.v1 import sidecar_pb2
from tests import stigg_sdk


@pytest.fixture(scope="module")
def sdk_schema() -> dict[str, Any]:
    return stigg_sdk.schema()


def test_every_message_field_enum_and_method_matches_the_sdk(sdk_schema: dict[str, Any]) -> None:
    ours = stigg_sdk.descriptor_schema(sidecar_pb2.DESCRIPTOR)
    differences = stigg_sdk.differences(ours, sdk_schema)
    assert not differences, "our proto differs from Stigg's Python SDK:\n" + "\n".join(differences)


def test_the_sdk_schema_is_read_in_full(sdk_schema: dict[str, Any]) -> None:
    """The comparison above is only as good as what it reads: the SDK's schema holds the
    whole service and the fields the SDK is known to have beyond the Go descriptor."""
    assert len(sdk_schema["methods"]) == 12
    assert {m["service"] for m in sdk_schema["methods"].values()} == {"stigg.sidecar.v1.SidecarService"}
    metered = sdk_schema["messages"]["MeteredEntitlement"]["fields"]
    assert metered["has_soft_limit"] == {
        "number": 14,
        "type": "bool",
        "repeated": False,
        "optional": True,
        "oneof": None,
        "deprecated": False,
    }
    assert metered["next_reset_date"]["deprecated"] is True
    assert sdk_schema["messages"]["EntitlementCurrency"]["fields"]["additional_meta_data"]["type"] == (
        "message google.protobuf.Struct"
    )
    fallbacks = sdk_schema["messages"]["LocalSidecarConfig"]["fields"]["entitlements_fallback"]
    assert fallbacks["type"] == "map<string, message stigg.sidecar.v1.EntitlementFallback>"
    assert sdk_schema["messages"]["EntitlementV2"]["fields"]["credit"]["oneof"] == "entitlement"
    assert sdk_schema["enums"]["AccessDeniedReason"]["ACCESS_DENIED_REASON_ENTITLEMENT_NOT_FOUND"] == 14


def test_a_difference_is_reported_by_name(sdk_schema: dict[str, Any]) -> None:
    """The comparison can fail: a changed number, a missing field, an extra enum value and a
    dropped deprecation all show."""
    ours = stigg_sdk.descriptor_schema(sidecar_pb2.DESCRIPTOR)
    ours["messages"]["ReportUsageRequest"]["fields"]["value"]["number"] = 40
    del ours["messages"]["Event"]["fields"]["idempotency_key"]
    ours["enums"]["FeatureType"]["FEATURE_TYPE_CREDIT"] = 4
    ours["messages"]["MeteredEntitlement"]["fields"]["next_reset_date"]["deprecated"] = False
    differences = stigg_sdk.differences(ours, sdk_schema)
    assert "MeteredEntitlement.next_reset_date: deprecated is False, the SDK's is True" in differences
    assert "ReportUsageRequest.value: number is 40, the SDK's is 4" in differences
    assert "Event.idempotency_key is missing: the SDK has string = 3" in differences
    assert any(line.startswith("enums: FeatureType is ") for line in differences)

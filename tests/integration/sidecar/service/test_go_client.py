"""A Go program on a Stigg-SDK-shaped client (package sidecarv1, NewSidecarServiceClient, built
by the official Go protobuf and gRPC generators) gets correct answers from our sidecar.

Stigg's own Go SDK module cannot be fetched here (the Go module proxy answers 403 for
github.com/stiggio/sidecar-sdk-go), so the SDK's generated package is generated from our proto
at the SDK's import path; see tests/integration/sidecar/go_client.py.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from stigg_devkit import sidecar_launcher
from tests.integration.sidecar import go_client

CALLS = [
    {
        "method": "GetBooleanEntitlement",
        "request": {"customerId": "customer-pro", "featureId": "feature-sso"},
    },
    {
        "method": "GetMeteredEntitlement",
        "request": {
            "customerId": "customer-free",
            "featureId": "feature-api-calls",
            "options": {"requestedUsage": 751},
        },
    },
    {
        "method": "GetEnumEntitlement",
        "request": {
            "customerId": "customer-pro",
            "featureId": "feature-data-region",
            "options": {"requestedValues": ["eu"]},
        },
    },
    {
        "method": "GetNumericEntitlement",
        "request": {"customerId": "customer-free", "featureId": "feature-max-projects"},
    },
    {"method": "GetEntitlements", "request": {"customerId": "customer-nobody"}},
    {
        "method": "ReportUsage",
        "request": {"customerId": "customer-free", "featureId": "feature-seats", "value": 1},
    },
    {"method": "ReloadEntitlements", "request": {"customerId": "customer-free"}},
    {"method": "GetBooleanEntitlement", "request": {"customerId": "", "featureId": "feature-sso"}},
]


@pytest.mark.slow
def test_go_sdk_shaped_client(module_sidecar: sidecar_launcher.RunningSidecar) -> None:
    binary = go_client.ensure_built()
    completed = subprocess.run(
        [str(binary), "-target", module_sidecar.grpc_target],
        input=json.dumps(CALLS),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    boolean, metered, enum, numeric, missing, usage, reload, invalid = (
        json.loads(line) for line in completed.stdout.splitlines()
    )
    assert boolean["response"]["has_access"] is True
    assert boolean["response"]["entitlement"]["feature"]["feature_type"] == "FEATURE_TYPE_BOOLEAN"
    assert (
        metered["response"]["access_denied_reason"] == "ACCESS_DENIED_REASON_REQUESTED_USAGE_EXCEEDING_LIMIT"
    )
    assert (
        metered["response"]["entitlement"]["usage_limit"],
        metered["response"]["entitlement"]["current_usage"],
    ) == (
        1000,
        250,
    )
    assert enum["response"]["has_access"] is True
    assert enum["response"]["entitlement"]["enum_values"] == ["us", "eu"]
    assert numeric["response"]["entitlement"]["value"] == 3
    assert missing["response"]["access_denied_reason"] == "ACCESS_DENIED_REASON_CUSTOMER_NOT_FOUND"
    assert (usage["response"]["feature_id"], usage["response"]["current_usage"]) == ("feature-seats", 2)
    assert reload["response"]["entitled_entity_exists"] is True
    assert invalid == {"code": "InvalidArgument", "message": "customer_id: must not be empty"}

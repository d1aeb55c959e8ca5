"""The CRD's structural schema and CEL rules reject bad specs at apply time, naming the problem."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import client

from stigg_operator import keys
from tests.integration.operator import conftest


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"defaults": {"f": {"isUnlimited": True, "usageLimit": 5}}},
            "a feature cannot have both isUnlimited and usageLimit",
        ),
        (
            {"sidecar": {"grpcPort": 9000, "httpPort": 9000}},
            "sidecar.grpcPort and sidecar.httpPort must differ",
        ),
        ({"offline": True, "upstream": {"realtime": True}}, "upstream.realtime cannot be true when offline"),
        ({"sidecar": {"logLevel": "loud"}}, 'spec.sidecar.logLevel: Unsupported value: "loud"'),
        (
            {"cache": {"redis": {"host": "r", "prefix": "p", "keysTtlSeconds": 0}}},
            "keysTtlSeconds must be -1",
        ),
        ({"upstream": {"edgeApiUrl": "edge.example"}}, "spec.upstream.edgeApiUrl"),
        ({"sidecar": {"grpcPort": 80}}, "spec.sidecar.grpcPort"),
        ({"mode": "Shared"}, 'spec.mode: Unsupported value: "Shared"'),
        (
            {"standalone": {"autoscaling": {"minReplicas": 5, "maxReplicas": 2}}},
            "autoscaling.maxReplicas must be at least autoscaling.minReplicas",
        ),
        ({"standalone": {"replicas": 0}}, "spec.standalone.replicas"),
        ({"rolloutOnChange": "yes"}, "spec.rolloutOnChange"),
    ],
)
def test_bad_spec_is_rejected(
    api_client: client.ApiClient, namespace: str, crd: None, spec: dict[str, Any], message: str
) -> None:
    with pytest.raises(client.ApiException) as raised:
        client.CustomObjectsApi(api_client).create_namespaced_custom_object(
            keys.GROUP, keys.VERSION, namespace, keys.PLURAL, conftest.make_resource("bad", spec)
        )
    assert raised.value.status == 422
    assert message in json.loads(raised.value.body)["message"]

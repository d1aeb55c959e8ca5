"""Operations: /livez, /readyz and /metrics over HTTP; gRPC health agrees; reflection lists the service."""

from __future__ import annotations

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from stigg_devkit import sidecar_launcher
from stigg_sidecar import client


async def test_probes_and_metrics(
    stub: client.AsyncSidecarClient, sidecar: sidecar_launcher.RunningSidecar
) -> None:
    assert sidecar.http_json("/livez") == (200, {"status": "UP"})
    status, ready = sidecar.http_json("/readyz")
    assert (status, ready["status"], ready["upstream"]) == (200, "UP", "closed")

    await stub.get_boolean_entitlement("customer-pro", "feature-sso")
    await stub.get_boolean_entitlement("customer-free", "feature-sso")
    await stub.get_boolean_entitlement("customer-free", "feature-sso")
    granted = sidecar.metric("sidecar_checks_total", 'method="GetBooleanEntitlement",outcome="granted"')
    denied = sidecar.metric("sidecar_checks_total", 'method="GetBooleanEntitlement",outcome="denied"')
    assert (granted, denied) == (1, 2)
    assert sidecar.metric("sidecar_upstream_request_duration_seconds_count", 'operation="fetch"') == 2
    assert sidecar.metric("sidecar_cache_entries") == 2
    assert sidecar.metric("sidecar_cache_size_bytes") > 0


def test_grpc_health_and_reflection(sidecar: sidecar_launcher.RunningSidecar) -> None:
    with grpc.insecure_channel(sidecar.grpc_target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "stigg.sidecar.v1.SidecarService"):
            answer = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
            assert answer.status == health_pb2.HealthCheckResponse.SERVING

        reflect = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        (response,) = list(reflect.ServerReflectionInfo(iter([request]), timeout=5))
        names = {service.name for service in response.list_services_response.service}
        assert {"stigg.sidecar.v1.SidecarService", "grpc.health.v1.Health"} <= names

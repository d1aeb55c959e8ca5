"""Pods created while the webhook's serving certificate is being rotated are still injected: the
certificate is renewed by the same CA (the caBundle stays valid) and swapped into the live TLS
context (the listening socket never closes)."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator

import pytest
from kubernetes import client

from stigg_devkit import waiting
from stigg_localcluster import cluster
from stigg_operator import certs, keys
from tests.integration.operator import conftest


@pytest.fixture
def fast_rotating_operator(
    local_cluster: cluster.LocalCluster,
    api_client: client.ApiClient,
    crd: None,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[conftest.Operator]:
    """An operator whose serving certificates live 72 s and are renewed when 54 s are left,
    i.e. a rotation every 18 to 32 s, checked every 13.5 s."""
    core = client.CoreV1Api(api_client)
    conftest.ensure_namespace(core, conftest.OPERATOR_NAMESPACE)
    secret_name = "stigg-operator-rotation-certs"
    running = conftest.Operator(
        local_cluster,
        tmp_path_factory.mktemp("rotating") / "operator.log",
        {
            "STIGG_OPERATOR_CERT_SECRET": secret_name,
            "STIGG_OPERATOR_CERT_VALIDITY_HOURS": "0.02",
            "STIGG_OPERATOR_CERT_RENEW_BEFORE_HOURS": "0.015",
        },
    )
    running.start(api_client)
    try:
        yield running
    finally:
        running.stop()
        running.remove_webhook(api_client)
        core.delete_namespaced_secret(secret_name, conftest.OPERATOR_NAMESPACE)


def _serial(core: client.CoreV1Api) -> int:
    secret = core.read_namespaced_secret("stigg-operator-rotation-certs", conftest.OPERATOR_NAMESPACE)
    loaded = certs.WebhookCerts.from_secret_data(secret.data)
    assert loaded is not None
    return loaded.serial


@pytest.mark.slow
def test_pods_are_injected_throughout_rotations(
    api_client: client.ApiClient, namespace: str, fast_rotating_operator: conftest.Operator
) -> None:
    core = client.CoreV1Api(api_client)
    admission = client.AdmissionregistrationV1Api(api_client)
    core.patch_namespace(namespace, {"metadata": {"labels": {keys.NAMESPACE_INJECTION_LABEL: "enabled"}}})
    conftest.make_secret(api_client, namespace)
    client.CustomObjectsApi(api_client).create_namespaced_custom_object(
        keys.GROUP, keys.VERSION, namespace, keys.PLURAL,
        conftest.make_resource("shop", {"apiKeySecretRef": {"name": "stigg-api-key"}}),
    )  # fmt: skip
    waiting.wait_for(
        lambda: conftest.resource_status(api_client, namespace, "shop").get("observedGeneration") == 1,
        what="the operator to see the resource",
    )
    bundle = (
        admission.read_mutating_webhook_configuration(conftest.WEBHOOK_CONFIG)
        .webhooks[0]
        .client_config.ca_bundle
    )
    serials = {_serial(core)}
    created = 0
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline:
        pod = core.create_namespaced_pod(
            namespace,
            client.V1Pod(
                metadata=client.V1ObjectMeta(generate_name="rot-"),
                spec=client.V1PodSpec(containers=[client.V1Container(name="app", image="example/app:1")]),
            ),
        )
        assert [c.name for c in pod.spec.init_containers or []] == [keys.SIDECAR_CONTAINER], (
            f"Pod {created} not injected"
        )
        created += 1
        serials.add(_serial(core))
        time.sleep(0.25)
    assert len(serials) >= 2, "the serving certificate must have been rotated during the run"
    after = (
        admission.read_mutating_webhook_configuration(conftest.WEBHOOK_CONFIG)
        .webhooks[0]
        .client_config.ca_bundle
    )
    assert after == bundle, "same CA: the caBundle never changed"
    assert base64.b64decode(after).startswith(b"-----BEGIN CERTIFICATE-----")
    assert "now serving the webhook's certificate of serial" in fast_rotating_operator.log()
    assert created > 50

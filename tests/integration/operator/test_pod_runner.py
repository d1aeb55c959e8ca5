"""The injected sidecar really works as wired: the Pod runner starts it from the Pod spec the
webhook produced (env from the Secret, the defaults ConfigMap mounted as a directory, named
ports), its startup, readiness and liveness probes pass, a check answers through the wired
upstream and then from the wired defaults, and a defaults edit in the resource reaches the
running sidecar without a restart."""

from __future__ import annotations

import time

import pytest
from kubernetes import client

from stigg_emulator import launcher
from stigg_localcluster import podrunner
from stigg_operator import keys
from stigg_sidecar import client as sidecar_client
from tests.integration.operator import conftest


@pytest.mark.slow
def test_injected_sidecar_runs_from_its_spec(
    api_client: client.ApiClient,
    namespace: str,
    operator: conftest.Operator,
    emulator: launcher.RunningEmulator,
    runner: podrunner.PodRunner,
) -> None:
    core, custom = client.CoreV1Api(api_client), client.CustomObjectsApi(api_client)
    core.patch_namespace(namespace, {"metadata": {"labels": {keys.NAMESPACE_INJECTION_LABEL: "enabled"}}})
    conftest.make_secret(api_client, namespace)
    spec = {
        "apiKeySecretRef": {"name": "stigg-api-key"},
        "upstream": {"edgeApiUrl": emulator.base_url, "apiUrl": emulator.base_url, "realtime": False},
        "defaults": {"feature-beta": {"hasAccess": True}},
    }
    custom.create_namespaced_custom_object(
        keys.GROUP, keys.VERSION, namespace, keys.PLURAL, conftest.make_resource("shop", spec)
    )
    conftest.wait_ready(api_client, namespace, "shop")
    pod = core.create_namespaced_pod(
        namespace,
        client.V1Pod(
            metadata=client.V1ObjectMeta(name="app"),
            spec=client.V1PodSpec(containers=[client.V1Container(name="app", image="example/app:1")]),
        ),
    )
    running = runner.run(api_client.sanitize_for_serialization(pod), keys.SIDECAR_CONTAINER)
    started_after = running.wait_probe("startupProbe")
    assert started_after < 30
    assert running.probe_once("readinessProbe")
    assert running.probe_once("livenessProbe")

    with sidecar_client.SidecarClient(running.address(keys.GRPC_PORT_NAME), timeout=5) as sidecar:
        online = sidecar.get_boolean_entitlement("customer-pro", "feature-sso")
        assert (online.has_access, online.is_fallback) == (True, False), "the API key from the Secret works"

        emulator.stop()
        defaulted = sidecar.get_boolean_entitlement("customer-enterprise", "feature-beta")
        assert (defaulted.has_access, defaulted.is_fallback) == (True, True), "served from the wired defaults"

        custom.patch_namespaced_custom_object(
            keys.GROUP, keys.VERSION, namespace, keys.PLURAL, "shop",
            {"spec": {"defaults": {"feature-beta": {"hasAccess": False}}}},
        )  # fmt: skip
        deadline = time.monotonic() + 40
        answer = defaulted
        while time.monotonic() < deadline and answer.has_access:
            time.sleep(0.25)
            answer = sidecar.get_boolean_entitlement("customer-enterprise", "feature-beta")
        assert (answer.has_access, answer.is_fallback) == (False, True), (
            "the edit reached the running sidecar"
        )
    assert running.process is not None
    assert running.process.poll() is None, "no restart"

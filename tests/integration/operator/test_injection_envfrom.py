"""An app's ``envFrom`` value of ``STIGG_SIDECAR_PORT`` on the real apiserver, the operator as a
process: a ConfigMap that sets it is read by the webhook and honoured (no ``env`` entry to win
over it); a Secret, which the webhook never reads, and a ConfigMap that does not exist yet get
the entry, and kubectl shows the admission's warning naming the container, the variable and
the source. The reads cost the admission little: measured on server-side dry-run creates, with
and without two ConfigMaps to read (figures printed)."""

from __future__ import annotations

import statistics
import time
from typing import Any

from kubernetes import client

from stigg_localcluster import cluster
from stigg_operator import keys
from tests.integration.operator import conftest

HOST, PORT = keys.APP_HOST_ENV, keys.APP_PORT_ENV


def _pod(name: str, *env_from: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "app", "image": "example/app:1", "envFrom": list(env_from)}]},
    }


def _app_env(pod: dict[str, Any]) -> dict[str, str]:
    [app] = [c for c in pod["spec"]["containers"] if c["name"] == "app"]
    return {e["name"]: e.get("value", "") for e in app.get("env", [])}


def _injected(pod: dict[str, Any]) -> bool:
    return keys.SIDECAR_CONTAINER in [c["name"] for c in pod["spec"].get("initContainers", [])]


def test_configmap_values_are_honoured_and_unseen_sources_warned_of(
    local_cluster: cluster.LocalCluster,
    api_client: client.ApiClient,
    namespace: str,
    operator: conftest.Operator,
) -> None:
    conftest.setup_namespace(api_client, namespace)
    core = client.CoreV1Api(api_client)
    core.create_namespaced_config_map(
        namespace,
        client.V1ConfigMap(metadata=client.V1ObjectMeta(name="app-env"), data={PORT: "50099", "MODE": "x"}),
    )
    core.create_namespaced_config_map(
        namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="stigg"), data={"SIDECAR_HOST": "h"})
    )
    core.create_namespaced_secret(
        namespace, client.V1Secret(metadata=client.V1ObjectMeta(name="app-secrets"), string_data={PORT: "7"})
    )

    admitted, warnings = conftest.create_with_warnings(
        local_cluster, namespace, _pod("from-configmap", {"configMapRef": {"name": "app-env"}})
    )
    assert _injected(admitted)
    assert _app_env(admitted) == {HOST: "localhost"}, "the ConfigMap's STIGG_SIDECAR_PORT is kept"
    assert "envFrom" not in warnings

    admitted, warnings = conftest.create_with_warnings(
        local_cluster, namespace, _pod("prefixed", {"configMapRef": {"name": "stigg"}, "prefix": "STIGG_"})
    )
    assert _app_env(admitted) == {PORT: "50051"}, "STIGG_ + SIDECAR_HOST is the app's"
    assert "envFrom" not in warnings

    admitted, warnings = conftest.create_with_warnings(
        local_cluster, namespace, _pod("from-secret", {"secretRef": {"name": "app-secrets"}})
    )
    assert _app_env(admitted) == {HOST: "localhost", PORT: "50051"}
    assert (
        "container 'app': injected env STIGG_SIDECAR_HOST=localhost, STIGG_SIDECAR_PORT=50051 overrides "
        "envFrom Secret 'app-secrets' (Secrets are not read) if it sets them; "
        "to keep your value, set it in env"
    ) in warnings

    admitted, warnings = conftest.create_with_warnings(
        local_cluster, namespace, _pod("not-yet", {"configMapRef": {"name": "later-env"}})
    )
    assert _app_env(admitted) == {HOST: "localhost", PORT: "50051"}
    assert "envFrom ConfigMap 'later-env' (not found)" in warnings

    admitted, warnings = conftest.create_with_warnings(
        local_cluster, namespace, _pod("optional", {"configMapRef": {"name": "later-env", "optional": True}})
    )
    assert _app_env(admitted) == {HOST: "localhost", PORT: "50051"}
    assert "envFrom" not in warnings, "an optional ConfigMap that does not exist sets nothing"


def test_reading_configmaps_adds_little_to_an_admission(
    api_client: client.ApiClient, namespace: str, operator: conftest.Operator
) -> None:
    conftest.setup_namespace(api_client, namespace)
    core = client.CoreV1Api(api_client)
    for name in ("env-a", "env-b"):
        core.create_namespaced_config_map(
            namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name), data={"K": "v"})
        )

    def median_ms(pod: dict[str, Any], runs: int = 15) -> float:
        took = []
        for _ in range(runs):
            started = time.perf_counter()
            admitted = core.create_namespaced_pod(namespace, pod, dry_run="All")
            took.append((time.perf_counter() - started) * 1000)
            assert any(c.name == keys.SIDECAR_CONTAINER for c in admitted.spec.init_containers or ())
        return statistics.median(took)

    median_ms(_pod("warm-up"), runs=3)
    plain = median_ms(_pod("plain"))
    reading = median_ms(
        _pod("reading", {"configMapRef": {"name": "env-a"}}, {"configMapRef": {"name": "env-b"}})
    )
    print(
        f"dry-run create, median of 15: {plain:.1f} ms without envFrom, {reading:.1f} ms reading 2 ConfigMaps"
    )
    assert reading < plain + 250, (plain, reading)

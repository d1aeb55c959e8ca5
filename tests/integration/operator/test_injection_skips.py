"""Pods the webhook admits without the sidecar, on the real apiserver, each with a warning that
says why: opted out by the annotation ``sidecar.stigg.io/inject: "false"`` (the label form is
filtered by the webhook configuration's selector; the annotation reaches the webhook and is
honoured there), and a Windows Pod (``spec.os.name``), which the Linux-only sidecar image and
its Linux securityContext would break. A Pod beside them is injected."""

from __future__ import annotations

from typing import Any

from kubernetes import client

from stigg_localcluster import cluster
from stigg_operator import keys
from stigg_operator.injection import patch
from tests.integration.operator import conftest


def _pod(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "app", "image": "example/app:1"}], **spec},
    }


def _init_names(pod: dict[str, Any]) -> list[str]:
    return [c["name"] for c in pod["spec"].get("initContainers", [])]


def test_opted_out_and_windows_pods_are_admitted_unchanged_with_the_reason(
    local_cluster: cluster.LocalCluster,
    api_client: client.ApiClient,
    namespace: str,
    operator: conftest.Operator,
) -> None:
    conftest.setup_namespace(api_client, namespace)

    opted_out = _pod("opted-out")
    opted_out["metadata"]["annotations"] = {keys.POD_INJECT_LABEL: "false"}
    admitted, warnings = conftest.create_with_warnings(local_cluster, namespace, opted_out)
    assert _init_names(admitted) == []
    assert keys.INJECTED_ANNOTATION not in admitted["metadata"].get("annotations", {})
    assert f"{keys.SIDECAR_CONTAINER} not injected: {patch.SKIP_OPTED_OUT}" in warnings

    admitted, warnings = conftest.create_with_warnings(
        local_cluster, namespace, _pod("windows", os={"name": "windows"})
    )
    assert _init_names(admitted) == []
    assert f"{keys.SIDECAR_CONTAINER} not injected: {patch.SKIP_WINDOWS}" in warnings

    admitted, warnings = conftest.create_with_warnings(
        local_cluster, namespace, _pod("linux", os={"name": "linux"})
    )
    assert _init_names(admitted) == [keys.SIDECAR_CONTAINER]
    assert "not injected" not in warnings
    assert "served by" not in warnings  # its own namespace's resource, its own Secret

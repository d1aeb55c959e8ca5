"""Workload manifests as a user writes them (YAML text, applied with kubectl), for the tests of
workload opt-in, rollout and drift."""

from __future__ import annotations

from typing import Any

import yaml
from kubernetes import client

from stigg_devkit import waiting
from stigg_localcluster import cluster
from stigg_operator import keys


def deployment(name: str, *, replicas: int = 2, annotations: dict[str, str] | None = None) -> str:
    """A Deployment with the Recreate strategy: with no kubelet here, Pods never become ready, so
    a rolling update would never finish; Recreate replaces every Pod at once."""
    body: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, **({"annotations": annotations} if annotations else {})},
        "spec": {
            "replicas": replicas,
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "example/app:1"}]},
            },
        },
    }
    return yaml.safe_dump(body)


def statefulset(name: str, *, annotations: dict[str, str] | None = None) -> str:
    """A StatefulSet with Parallel Pod management: with OrderedReady, the controller updates no
    Pod while one is not ready, and with no kubelet here none ever is."""
    body: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name, **({"annotations": annotations} if annotations else {})},
        "spec": {
            "replicas": 1,
            "serviceName": name,
            "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "example/db:1"}]},
            },
        },
    }
    return yaml.safe_dump(body)


def daemonset(name: str, *, annotations: dict[str, str] | None = None) -> str:
    body: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name, **({"annotations": annotations} if annotations else {})},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "agent", "image": "example/agent:1"}]},
            },
        },
    }
    return yaml.safe_dump(body)


def apply(local: cluster.LocalCluster, namespace: str, manifest: str, *extra: str) -> None:
    local.kubectl("apply", "-n", namespace, "-f", "-", *extra, input_text=manifest)


def has_sidecar(pod: Any) -> bool:
    return any(c.name == keys.SIDECAR_CONTAINER for c in pod.spec.init_containers or [])


def live_pods(core: client.CoreV1Api, namespace: str, app: str) -> list[Any]:
    return [
        pod
        for pod in core.list_namespaced_pod(namespace, label_selector=f"app={app}").items
        if pod.metadata.deletion_timestamp is None
    ]


def wait_pods(
    core: client.CoreV1Api, namespace: str, app: str, count: int, *, injected: bool, timeout: float = 60
) -> list[Any]:
    """Wait until the workload has exactly ``count`` live Pods, all (or none) injected."""
    return waiting.wait_for(
        lambda: (
            (pods := live_pods(core, namespace, app))
            and len(pods) == count
            and all(has_sidecar(pod) == injected for pod in pods)
            and pods
        ),
        timeout=timeout,
        what=f"{count} Pods of {app}, {'all' if injected else 'none'} with the sidecar",
    )

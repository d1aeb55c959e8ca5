"""Pods: the opted-in ones (for the drift scan), those of a label selector (Standalone mode's
shared sidecars, whose states are the evidence of their Secrets), one by name, and deleting one
(for a repair).

Opted in means in a namespace labelled ``sidecar.stigg.io/injection=enabled``, or labelled
``sidecar.stigg.io/inject=true`` anywhere; ``skipped`` namespaces (system ones, the operator's)
are never listed. Whether such a Pod is missing its sidecar is ``workloads.missing_sidecar``.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from typing import Any

from kubernetes import client

from stigg_operator import keys
from stigg_operator.kube import rest


def opted_in(api: client.ApiClient, skipped: Set[str]) -> tuple[set[str], list[dict[str, Any]]]:
    """(the opted-in namespaces, every Pod opted in by its namespace or its own label), once each."""
    namespaces = {
        ns["metadata"]["name"]
        for ns in rest.list_items(
            api, "v1", "namespaces", label_selector=f"{keys.NAMESPACE_INJECTION_LABEL}=enabled"
        )
    } - skipped
    pods: dict[str, dict[str, Any]] = {}
    for namespace in sorted(namespaces):
        for pod in rest.list_items(api, "v1", "pods", namespace=namespace):
            pods[pod["metadata"]["uid"]] = pod
    for pod in rest.list_items(api, "v1", "pods", label_selector=f"{keys.POD_INJECT_LABEL}=true"):
        if pod["metadata"]["namespace"] not in skipped:
            pods.setdefault(pod["metadata"]["uid"], pod)
    return namespaces, list(pods.values())


def labelled(api: client.ApiClient, namespace: str, labels: Mapping[str, str]) -> list[dict[str, Any]]:
    """The namespace's Pods carrying every label of ``labels``."""
    selector = ",".join(f"{key}={value}" for key, value in sorted(labels.items()))
    return rest.list_items(api, "v1", "pods", namespace=namespace, label_selector=selector)


def get(api: client.ApiClient, namespace: str, name: str) -> dict[str, Any] | None:
    return rest.get(api, "v1", "pods", namespace, name)


def delete(api: client.ApiClient, namespace: str, name: str) -> None:
    """Delete the Pod (its controller recreates it); already gone is fine."""
    try:
        client.CoreV1Api(api).delete_namespaced_pod(name, namespace)
    except client.ApiException as error:
        if error.status != 404:
            raise

"""Shared by the ``test_least_privilege_*`` modules: the objects the operator writes, built by
its own code, and the same objects bent into what it must never write.

``standalone_deployment`` is Standalone mode's Deployment exactly as ``upkeep.standalone_objects``
applies it (``standalone.deployment``, owned by a real StiggEntitlements, the applied digest);
``apply`` sends a body by server-side apply, as the operator does (``kube.rest.apply``), with
the client given (the impersonated operator). ``an_app_deployment`` is a workload the operator
does not own, as a user would create it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from kubernetes import client

from stigg_operator import keys, model, reconcile, standalone
from stigg_operator.kube import rest
from tests.integration.operator import conftest


@contextlib.contextmanager
def owner(api: client.ApiClient, namespace: str, name: str = "shop") -> Iterator[str]:
    """A StiggEntitlements ``name`` in Standalone mode in ``namespace`` (no operator runs here:
    nothing reconciles it); its uid. Deleted afterwards, so that the operator of a later module
    does not reconcile it while the namespace is being deleted."""
    custom = client.CustomObjectsApi(api)
    created = custom.create_namespaced_custom_object(
        keys.GROUP, keys.VERSION, namespace, keys.PLURAL,
        conftest.make_resource(name, {"apiKeySecretRef": {"name": "stigg-api-key"}, "mode": "Standalone"}),
    )  # fmt: skip
    try:
        yield str(created["metadata"]["uid"])
    finally:
        custom.delete_namespaced_custom_object(keys.GROUP, keys.VERSION, namespace, keys.PLURAL, name)


def effective(namespace: str, name: str = "shop") -> model.EffectiveConfig:
    spec = {"apiKeySecretRef": {"name": "stigg-api-key"}, "mode": "Standalone"}
    return model.effective(namespace, name, spec, model.OperatorDefaults())


def standalone_deployment(namespace: str, uid: str, name: str = "shop") -> dict[str, Any]:
    body = standalone.deployment(effective(namespace, name))
    body["metadata"]["ownerReferences"] = [reconcile.owner_reference(name, uid)]
    body["metadata"]["annotations"] = {keys.APPLIED_ANNOTATION: "digest"}
    return body


def apply(api: client.ApiClient, body: Mapping[str, Any], *, dry_run: bool = False) -> dict[str, Any]:
    """Server-side apply ``body`` (apps/v1 Deployments, StatefulSets, DaemonSets, or core/v1)."""
    plural = {
        "Deployment": "deployments",
        "StatefulSet": "statefulsets",
        "DaemonSet": "daemonsets",
        "Service": "services",
    }[body["kind"]]
    if not dry_run:
        return rest.apply(
            api, body["apiVersion"], plural, body, manager=keys.STANDALONE_FIELD_MANAGER, force=True
        )
    metadata = body["metadata"]
    prefix = "/api/v1" if body["apiVersion"] == "v1" else f"/apis/{body['apiVersion']}"
    path = f"{prefix}/namespaces/{metadata['namespace']}/{plural}/{metadata['name']}"
    # The operator's own transport (kube.rest), with dryRun.
    result: dict[str, Any] = rest._call(
        api,
        "PATCH",
        path,
        query_params=[("fieldManager", keys.STANDALONE_FIELD_MANAGER), ("force", "true"), ("dryRun", "All")],
        headers={"Content-Type": rest.APPLY_CONTENT_TYPE},
        body=dict(body),
    )
    return result


def an_app_deployment(
    kind: str, namespace: str, name: str = "web", *, opt_in: bool = False
) -> dict[str, Any]:
    """A user's workload of ``kind`` (Deployment, StatefulSet, DaemonSet), opted in by annotation
    if ``opt_in`` (only where a test needs it: an operator of a later module would opt in what
    is left while the namespace is deleted)."""
    labels = {"app": name}
    spec: dict[str, Any] = {
        "selector": {"matchLabels": labels},
        "template": {
            "metadata": {"labels": labels, "annotations": {"team": "shop"}},
            "spec": {"containers": [{"name": "app", "image": "example/app:1", "command": ["/app"]}]},
        },
    }
    if kind == "StatefulSet":
        spec["serviceName"] = name
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "annotations": {keys.WORKLOAD_INJECT_ANNOTATION: "true", keys.CONFIG_ANNOTATION: "shop"}
            if opt_in
            else {},
        },
        "spec": spec,
    }

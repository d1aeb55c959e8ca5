"""Secrets: the webhook's certificate Secret only (read with its resourceVersion; created the
first time, then replaced carrying the version read, so replicas racing to renew it cannot
overwrite each other).

The operator reads no other Secret, and its RBAC grants no other: whether the Secrets a resource
references exist is judged from its sidecars' container states (``reconcile.secret_evidence``).
The certificate Secret is not applied: the RBAC lets the operator ``update`` that one Secret by
name (and ``create`` the first time), never ``patch`` it.
"""

from __future__ import annotations

from collections.abc import Mapping

from kubernetes import client


class Conflict(Exception):
    """The Secret changed (or was created) since it was read: read it again."""


def read_versioned(api: client.ApiClient, namespace: str, name: str) -> tuple[dict[str, str], str] | None:
    """The Secret's data (base64 values) and its resourceVersion, or None if there is none."""
    try:
        secret = client.CoreV1Api(api).read_namespaced_secret(name, namespace)
    except client.ApiException as error:
        if error.status != 404:
            raise
        return None
    return dict(secret.data or {}), str(secret.metadata.resource_version)


def write_versioned(
    api: client.ApiClient, namespace: str, name: str, data: Mapping[str, str], resource_version: str | None
) -> None:
    """Create the Secret (no ``resource_version``) or replace the version read; ``Conflict`` if
    another replica wrote it first, so two replicas never overwrite each other's certificates."""
    core = client.CoreV1Api(api)
    metadata = {"name": name, "namespace": namespace}
    body: dict[str, object] = {"metadata": metadata, "type": "Opaque", "data": dict(data)}
    try:
        if resource_version is None:
            core.create_namespaced_secret(namespace, body)
        else:
            body["metadata"] = {**metadata, "resourceVersion": resource_version}
            core.replace_namespaced_secret(name, namespace, body)
    except client.ApiException as error:
        if error.status == 409:
            raise Conflict(f"Secret {namespace}/{name} was written by another replica") from error
        raise

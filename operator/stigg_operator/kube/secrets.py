"""Secrets: the webhook's certificate Secret only (read; created the first time, then replaced).

The operator reads no other Secret, and its RBAC grants no other: whether the Secrets a resource
references exist is judged from its sidecars' container states (``reconcile.secret_evidence``).
The certificate Secret is not applied: the RBAC lets the operator ``update`` that one Secret by
name (and ``create`` the first time), never ``patch`` it.
"""

from __future__ import annotations

from collections.abc import Mapping

from kubernetes import client


def read_data(api: client.ApiClient, namespace: str, name: str) -> dict[str, str] | None:
    """The Secret's data (base64 values), or None if there is no such Secret."""
    try:
        secret = client.CoreV1Api(api).read_namespaced_secret(name, namespace)
    except client.ApiException as error:
        if error.status != 404:
            raise
        return None
    return dict(secret.data or {})


def write(api: client.ApiClient, namespace: str, name: str, data: Mapping[str, str], *, exists: bool) -> None:
    """Replace the Secret's data (an ``Opaque`` Secret), creating it if it does not ``exist``."""
    core = client.CoreV1Api(api)
    body = {"metadata": {"name": name, "namespace": namespace}, "type": "Opaque", "data": dict(data)}
    if exists:
        core.replace_namespaced_secret(name, namespace, body)
    else:
        core.create_namespaced_secret(namespace, body)

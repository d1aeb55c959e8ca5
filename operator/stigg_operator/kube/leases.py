"""Leases (``coordination.k8s.io/v1``): the record the operator's replicas elect a leader with.

``read`` gives the Lease's spec and its ``resourceVersion`` (None if there is no Lease);
``write`` creates it the first time (``resource_version`` None) or replaces it carrying the
version read, so two replicas that both saw the Lease free cannot both take it: the second
replace conflicts (``Conflict``, from a 409 on either call). The RBAC grants ``create`` and
``get``/``update`` of that one Lease by name, never ``patch``, ``list`` or ``delete``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from kubernetes import client


class Conflict(Exception):
    """Another replica wrote the Lease since it was read (or created it first)."""


def read(api: client.ApiClient, namespace: str, name: str) -> tuple[dict[str, Any], str] | None:
    """The Lease's spec (API field names) and resourceVersion, or None if there is none."""
    try:
        raw = client.CoordinationV1Api(api).read_namespaced_lease(name, namespace, _preload_content=False)
    except client.ApiException as error:
        if error.status == 404:
            return None
        raise
    body: dict[str, Any] = json.loads(raw.data)
    return dict(body.get("spec") or {}), str(body["metadata"]["resourceVersion"])


def write(
    api: client.ApiClient, namespace: str, name: str, spec: Mapping[str, Any], resource_version: str | None
) -> None:
    """Create the Lease (no ``resource_version``) or replace the version read; ``Conflict`` if
    someone else was first."""
    leases = client.CoordinationV1Api(api)
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    try:
        if resource_version is None:
            leases.create_namespaced_lease(namespace, {"metadata": metadata, "spec": dict(spec)})
        else:
            metadata["resourceVersion"] = resource_version
            leases.replace_namespaced_lease(name, namespace, {"metadata": metadata, "spec": dict(spec)})
    except client.ApiException as error:
        if error.status == 409:
            raise Conflict(f"Lease {namespace}/{name} was written by another replica") from error
        raise

"""Leases (``coordination.k8s.io/v1``): the record the operator's replicas elect a leader with.

``read`` gives the Lease's spec and its ``resourceVersion`` (None if there is no Lease);
``write`` creates it the first time (``resource_version`` None) or replaces it carrying the
version read, so two replicas that both saw the Lease free cannot both take it: the second
write conflicts (``Conflict``, from a 409 on either call). Plain JSON through ``rest``: the typed
client would parse the MicroTime fields and write them back without their microseconds, which
the apiserver refuses. The RBAC grants ``create`` and ``get``/``update`` of that one Lease by
name, never ``patch``, ``list`` or ``delete``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubernetes import client

from stigg_operator.kube import rest

API_VERSION, PLURAL = "coordination.k8s.io/v1", "leases"


class Conflict(Exception):
    """Another replica wrote the Lease since it was read (or created it first)."""


def read(api: client.ApiClient, namespace: str, name: str) -> tuple[dict[str, Any], str] | None:
    """The Lease's spec (API field names) and resourceVersion, or None if there is none."""
    found = rest.get(api, API_VERSION, PLURAL, namespace, name)
    if found is None:
        return None
    return dict(found.get("spec") or {}), str(found["metadata"]["resourceVersion"])


def write(
    api: client.ApiClient, namespace: str, name: str, spec: Mapping[str, Any], resource_version: str | None
) -> None:
    """Create the Lease (no ``resource_version``) or replace the version read; ``Conflict`` if
    someone else was first."""
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    body = {"apiVersion": API_VERSION, "kind": "Lease", "metadata": metadata, "spec": dict(spec)}
    try:
        if resource_version is None:
            rest.create(api, API_VERSION, PLURAL, body)
        else:
            metadata["resourceVersion"] = resource_version
            rest.replace(api, API_VERSION, PLURAL, body)
    except client.ApiException as error:
        if error.status == 409:
            raise Conflict(f"Lease {namespace}/{name} was written by another replica") from error
        raise

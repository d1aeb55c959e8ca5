"""Workloads (Deployments, StatefulSets, DaemonSets, and the ReplicaSets of repaired Pods): get
one, and server-side apply the template fields the operator owns (opt-in, rollout stamps).

What to apply is decided by ``workloads`` (pure); here a ``WorkloadRef`` becomes its API path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubernetes import client

from stigg_operator import workloads
from stigg_operator.kube import rest

API_VERSION = "apps/v1"


def _plural(kind: str) -> str:
    return workloads.KINDS.get(kind, "replicasets")


def get(api: client.ApiClient, ref: workloads.WorkloadRef) -> dict[str, Any] | None:
    """The workload (a ReplicaSet for any kind ``workloads.KINDS`` lacks), or None if it is gone."""
    return rest.get(api, API_VERSION, _plural(ref.kind), ref.namespace, ref.name)


def apply(
    api: client.ApiClient, ref: workloads.WorkloadRef, body: Mapping[str, Any], *, manager: str, force: bool
) -> dict[str, Any]:
    """Server-side apply ``body`` to the workload as ``manager``; the workload after it."""
    return rest.apply(api, API_VERSION, workloads.KINDS[ref.kind], body, manager=manager, force=force)

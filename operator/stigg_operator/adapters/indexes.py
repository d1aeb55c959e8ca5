"""kopf's in-memory indexes of the operator: what the webhook and the refresh read, never the API.

* ``entitlements``: every StiggEntitlements by (namespace, name) → ``reconciler.entry`` of it
  (spec, uid, generation, status conditions, mode, defaults copies);
* ``injected``: every Pod labelled ``sidecar.stigg.io/injected=true`` (the label selector is
  the registration's) by the resource it was injected from → ``workloads.InjectedPod`` (its
  wiring hash, owning workload and its sidecar's state, the evidence of a missing Secret);
* ``opt_ins`` (``workload_events.pending_opt_in``, registered there): workloads whose Pod
  template does not carry their opt-in yet, for a new leader to catch up on.
"""

from __future__ import annotations

from typing import Any

import kopf

from stigg_operator import reconciler, workloads


def entitlements(
    *, namespace: str | None, name: str, body: kopf.Body, **_: Any
) -> dict[tuple[str | None, str], Any]:
    return {(namespace, name): reconciler.entry(body)}


def injected(*, body: kopf.Body, **_: Any) -> dict[str, workloads.InjectedPod] | None:
    pod = workloads.injected_pod(dict(body))
    return {pod.resource: pod} if pod is not None else None

"""The operator's upkeep of what a StiggEntitlements resource implies beyond its ConfigMap.

Called by ``reconciler`` on every reconcile (and so every status interval), and by ``refresh``
for the drift scan; each function reads and writes Kubernetes objects through ``kube`` and
returns a status block, while the decisions are pure (``standalone``, ``workloads``, ``model``):

* ``standalone_objects``: in Standalone mode, server-side apply the shared Deployment, Service,
  PodDisruptionBudget, NetworkPolicy (and HPA), owned by the resource; an object someone else
  made under that name is never taken over (``StandaloneConflict``), and one the apiserver
  refuses is said in the status (``StandaloneRejected``). Each carries a digest of
  what was applied, so an unchanged resource costs one GET per object. In Sidecar mode, the
  objects a previous Standalone mode left are deleted (only those the resource owns).
* ``rollout``: the workloads whose injected Pods carry an older wiring hash; with
  ``rolloutOnChange``, each is stamped once for the current hash, which rolls it (each stamp
  counted: ``stigg_operator_rollouts_total``).
* ``defaults_copies``: cluster-default's defaults ConfigMap lives in the operator's namespace,
  where Pods elsewhere cannot mount it; so the namespaces where cluster-default serves Pods get
  a copy under the same name (``kube.configmaps.keep_copies``: marked as a copy, never taking
  over another ConfigMap), kept in step with every edit, so a defaults edit reaches running
  sidecars there too. A copy no Pod needs any more is deleted. A refused copy is counted at
  every reconcile (``stigg_operator_reconcile_errors_total{reason="DefaultsCopyConflict"}``).
  (Volumes cannot reach across namespaces, and an owner reference cannot either, hence the
  bookkeeping in cluster-default's status.)
* ``find_missing`` (once per drift scan, for every resource): opted-in Pods without a sidecar,
  assigned to the resource that would have served them (``model.select``; a Pod no resource
  serves, ``NoServingResource``, is skipped: the webhook would have denied it); each is
  reported once as a Warning Event on the Pod. ``repair`` (with ``repairMissingSidecars``) deletes such
  Pods so their controllers recreate them injected: only Pods a Deployment, StatefulSet,
  DaemonSet or ReplicaSet owns, at most ``REPAIRS_PER_ROUND`` per refresh, and one per workload
  at a time (the next only once the previous Pod is gone and the workload is fully ready again).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kubernetes import client

from stigg_operator import keys, metrics, model, reconcile, settings, standalone, workloads
from stigg_operator.kube import configmaps, events, pods, rest
from stigg_operator.kube import workloads as kube_workloads

logger = logging.getLogger(__name__)

REPAIRS_PER_ROUND = 5
ResourceKey = model.ResourceKey


def _owned_by(obj: Mapping[str, Any], uid: str) -> bool:
    return any(ref.get("uid") == uid for ref in (obj.get("metadata") or {}).get("ownerReferences") or ())


def _digest(body: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]


def standalone_objects(
    api: client.ApiClient, effective: model.EffectiveConfig, uid: str, *, cluster_wide: bool, cleanup: bool
) -> tuple[dict[str, Any] | None, reconcile.Problem | None]:
    """Create, update or remove the shared sidecar's objects; (status block, problem)."""
    name = effective.standalone_name
    if not effective.is_standalone:
        if cleanup:
            for kind in standalone.KINDS:
                existing = rest.get(api, kind.api_version, kind.plural, effective.namespace, name)
                if existing is not None and _owned_by(existing, uid):
                    rest.delete(api, kind.api_version, kind.plural, effective.namespace, name)
                    logger.info("Sidecar mode: deleted %s %s/%s", kind.kind, effective.namespace, name)
        return None, None
    deployment_status: Mapping[str, Any] | None = None
    for kind, desired in standalone.objects(effective, cluster_wide=cluster_wide).items():
        existing = rest.get(api, kind.api_version, kind.plural, effective.namespace, name)
        if existing is not None and not _owned_by(existing, uid):
            return None, reconcile.Problem(
                "StandaloneConflict",
                f"{kind.kind} {effective.namespace}/{name} exists and is not ours: remove or rename it",
            )
        if desired is None:
            if existing is not None:
                rest.delete(api, kind.api_version, kind.plural, effective.namespace, name)
            continue
        digest = _digest(desired)
        desired["metadata"]["ownerReferences"] = [reconcile.owner_reference(effective.name, uid)]
        desired["metadata"].setdefault("annotations", {})[keys.APPLIED_ANNOTATION] = digest
        current = existing
        if (
            existing is None
            or (existing["metadata"].get("annotations") or {}).get(keys.APPLIED_ANNOTATION) != digest
        ):
            try:
                current = rest.apply(
                    api,
                    kind.api_version,
                    kind.plural,
                    desired,
                    manager=keys.STANDALONE_FIELD_MANAGER,
                    force=True,
                )
            except client.ApiException as error:  # what model's limits did not foresee: in the status
                return None, reconcile.Problem(
                    "StandaloneRejected",
                    f"{kind.kind} {effective.namespace}/{name} not applied: {rest.refusal(error)}",
                )
            logger.info("Standalone mode: applied %s %s/%s", kind.kind, effective.namespace, name)
        if kind is standalone.DEPLOYMENT and current is not None:
            deployment_status = current.get("status")
    return standalone.readiness(deployment_status, effective), None


def defaults_copies(
    api: client.ApiClient,
    body: Mapping[str, Any],
    needed: set[str],
    previous: Iterable[str],
    *,
    ledger: Ledger,
    instruments: metrics.Metrics,
) -> list[str]:
    """Keep a copy of ``body`` (cluster-default's ConfigMap) where it serves Pods; the namespaces
    holding one now (see the module docstring). A namespace where another ConfigMap has its name
    is a Warning Event on cluster-default (once per namespace): its sidecars get no defaults there."""
    holding, refused = configmaps.keep_copies(api, body, needed, previous)
    metadata = body["metadata"]
    owner = metadata["ownerReferences"][0]
    for namespace in refused:
        instruments.reconcile_failed(keys.COPY_CONFLICT_REASON)
        with ledger.lock:
            first_time = (metadata["namespace"], owner["name"], namespace) not in ledger.failures
            ledger.failures.add((metadata["namespace"], owner["name"], namespace))
        if first_time:
            events.post(
                api,
                reconcile.resource_ref(metadata["namespace"], owner["name"], owner["uid"]),
                reason=keys.COPY_CONFLICT_REASON,
                message=(
                    f"ConfigMap {namespace}/{metadata['name']} exists and is not a copy of "
                    f"{reconcile.copy_source(body)}: Pods of {namespace} get no defaults from it; "
                    "remove or rename it"
                ),
            )
    return holding


def rollout(
    api: client.ApiClient,
    effective: model.EffectiveConfig,
    injected: Iterable[workloads.InjectedPod],
    instruments: metrics.Metrics,
) -> dict[str, Any]:
    """Roll outdated workloads when the resource asks for it; the status's ``workloads`` block."""
    wiring = effective.wiring_hash()
    current = workloads.workloads_status(injected, wiring)
    rolled = 0
    for ref in current.outdated if effective.rollout_on_change else ():
        workload = kube_workloads.get(api, ref)
        if workload is None:
            continue
        if workloads.rollout_stamp(workload) != wiring:
            kube_workloads.apply(
                api, ref, workloads.rollout_apply(ref, wiring), manager=keys.ROLLOUT_FIELD_MANAGER, force=True
            )
            logger.info("%s: rolling onto the configuration of %s (wiring %s)", ref, effective.ref, wiring)
            instruments.rollout_started(ref.namespace)
        rolled += 1
    return {
        "total": current.total,
        "upToDate": current.up_to_date,
        "rolled": rolled,
        "summary": f"{current.up_to_date}/{current.total}",
    }


@dataclasses.dataclass
class Ledger:
    """What the operator remembers between refreshes: Pods reported, repairs in flight, and the
    generation of each resource reconciled since this replica last became the leader."""

    reported: set[str] = dataclasses.field(default_factory=set)
    in_flight: dict[workloads.WorkloadRef, tuple[str, str]] = dataclasses.field(default_factory=dict)
    repaired: dict[ResourceKey, int] = dataclasses.field(default_factory=dict)
    failures: set[tuple[str, str, str]] = dataclasses.field(default_factory=set)  # Events posted once
    reconciled: dict[str, int] = dataclasses.field(default_factory=dict)  # uid → generation done, this term
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)


def find_missing(
    api: client.ApiClient, config: settings.Settings, entitlements: Mapping[Any, Any], ledger: Ledger
) -> dict[ResourceKey, list[dict[str, Any]]]:
    """Opted-in Pods without a sidecar, by the resource that would serve them (reported once)."""
    opted, candidates = pods.opted_in(api, keys.SYSTEM_NAMESPACES | {config.namespace})
    found: dict[ResourceKey, list[dict[str, Any]]] = {}
    for pod in candidates:
        metadata = pod["metadata"]
        if not workloads.missing_sidecar(pod, metadata["namespace"] in opted):
            continue
        try:
            serving = model.select(
                config.namespace, metadata["namespace"], metadata.get("annotations") or {}, entitlements
            )
        except model.NoServingResource:
            continue  # no resource would serve it: the webhook would have denied it
        owner_ns, owner_name = serving.namespace, serving.name
        found.setdefault((owner_ns, owner_name), []).append(pod)
        with ledger.lock:
            first_time = metadata["uid"] not in ledger.reported
            ledger.reported.add(metadata["uid"])
        if first_time:
            events.post(
                api,
                pod,
                reason=keys.MISSING_SIDECAR_REASON,
                message=(
                    f"opted in to {keys.SIDECAR_CONTAINER} (StiggEntitlements {owner_ns}/{owner_name}) "
                    "but created without it, likely while the injector was unavailable: delete the Pod "
                    "to have it recreated with the sidecar, or set spec.repairMissingSidecars to let the "
                    "operator do it"
                ),
            )
    return found


def _fully_ready(workload: Mapping[str, Any]) -> bool:
    status: Mapping[str, Any] = workload.get("status") or {}
    if workload.get("kind") == "DaemonSet":
        return int(status.get("numberReady") or 0) >= int(status.get("desiredNumberScheduled") or 0)
    wanted = int((workload.get("spec") or {}).get("replicas", 1) or 0)
    return int(status.get("readyReplicas") or 0) >= wanted


def repair(
    api: client.ApiClient,
    effective: model.EffectiveConfig,
    missing: Sequence[Mapping[str, Any]],
    ledger: Ledger,
) -> None:
    """Delete up to ``REPAIRS_PER_ROUND`` Pods missing their sidecar, one per workload at a time."""
    if not effective.repair_missing_sidecars:
        return
    budget = REPAIRS_PER_ROUND
    for pod in missing:
        owner = workloads.owner_of(pod)
        if budget <= 0 or owner is None or owner.kind not in (*workloads.KINDS, "ReplicaSet"):
            continue
        if not _repair_settled(api, owner, ledger):
            continue
        metadata = pod["metadata"]
        events.post(
            api,
            pod,
            reason=keys.REPAIR_REASON,
            message=(
                f"deleted by the operator (spec.repairMissingSidecars of {effective.ref}): "
                f"{owner} recreates it with {keys.SIDECAR_CONTAINER}"
            ),
            event_type="Normal",
        )
        pods.delete(api, metadata["namespace"], metadata["name"])
        logger.info(
            "repair: deleted %s/%s of %s (no sidecar)", metadata["namespace"], metadata["name"], owner
        )
        with ledger.lock:
            ledger.in_flight[owner] = (metadata["namespace"], metadata["name"])
            key = (effective.namespace, effective.name)
            ledger.repaired[key] = ledger.repaired.get(key, 0) + 1
        budget -= 1


def _repair_settled(api: client.ApiClient, owner: workloads.WorkloadRef, ledger: Ledger) -> bool:
    """No repair of this workload is in flight: the last deleted Pod is gone and it is ready again."""
    with ledger.lock:
        previous = ledger.in_flight.get(owner)
    if previous is None:
        return True
    if pods.get(api, *previous) is not None:
        return False
    workload = kube_workloads.get(api, owner)
    if workload is not None and not _fully_ready(workload):
        return False
    with ledger.lock:
        ledger.in_flight.pop(owner, None)
    return True

"""The operator's upkeep of what a StiggEntitlements resource implies beyond its ConfigMap.

Called by ``handlers`` on every reconcile (and so every status interval); each function reads
and writes Kubernetes objects and returns a status block, while the decisions are pure
(``standalone``, ``workloads``):

* ``standalone_objects``: in Standalone mode, server-side apply the shared Deployment, Service,
  PodDisruptionBudget, NetworkPolicy (and HPA), owned by the resource; an object someone else
  made under that name is never taken over (``StandaloneConflict``). Each carries a digest of
  what was applied, so an unchanged resource costs one GET per object. In Sidecar mode, the
  objects a previous Standalone mode left are deleted (only those the resource owns).
* ``rollout``: the workloads whose injected Pods carry an older wiring hash; with
  ``rolloutOnChange``, each is stamped once for the current hash, which rolls it.
* ``defaults_copies``: cluster-default's defaults ConfigMap lives in the operator's namespace,
  where Pods elsewhere cannot mount it; so the namespaces where cluster-default serves Pods get
  a copy under the same name (marked as a copy, never taking over another ConfigMap), kept in
  step with every edit, so a defaults edit reaches running sidecars there too. A copy no Pod
  needs any more is deleted. (Volumes cannot reach across namespaces, and an owner reference
  cannot either, hence the bookkeeping in cluster-default's status.)
* ``find_missing`` (once per refresh, for every resource): opted-in Pods without a sidecar,
  assigned to the resource that would have served them (``webhook.choose``); each is reported
  once as a Warning Event on the Pod. ``repair`` (with ``repairMissingSidecars``) deletes such
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

import kopf
from kubernetes import client

from stigg_operator import keys, kubeapi, model, reconcile, settings, standalone, webhook, workloads

logger = logging.getLogger(__name__)

APPLIED_ANNOTATION = f"{keys.GROUP}/applied-digest"
REPAIRS_PER_ROUND = 5
ResourceKey = tuple[str, str]


def owner_reference(namespace: str, name: str, uid: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{keys.GROUP}/{keys.VERSION}",
        "kind": keys.KIND,
        "name": name,
        "uid": uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


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
                existing = kubeapi.get(api, kind.api_version, kind.plural, effective.namespace, name)
                if existing is not None and _owned_by(existing, uid):
                    kubeapi.delete(api, kind.api_version, kind.plural, effective.namespace, name)
                    logger.info("Sidecar mode: deleted %s %s/%s", kind.kind, effective.namespace, name)
        return None, None
    deployment_status: Mapping[str, Any] | None = None
    for kind, desired in standalone.objects(effective, cluster_wide=cluster_wide).items():
        existing = kubeapi.get(api, kind.api_version, kind.plural, effective.namespace, name)
        if existing is not None and not _owned_by(existing, uid):
            return None, reconcile.Problem(
                "StandaloneConflict",
                f"{kind.kind} {effective.namespace}/{name} exists and is not ours: remove or rename it",
            )
        if desired is None:
            if existing is not None:
                kubeapi.delete(api, kind.api_version, kind.plural, effective.namespace, name)
            continue
        digest = _digest(desired)
        desired["metadata"]["ownerReferences"] = [owner_reference(effective.namespace, effective.name, uid)]
        desired["metadata"].setdefault("annotations", {})[APPLIED_ANNOTATION] = digest
        current = existing
        if (
            existing is None
            or (existing["metadata"].get("annotations") or {}).get(APPLIED_ANNOTATION) != digest
        ):
            current = kubeapi.apply(
                api, kind.api_version, kind.plural, desired, manager=keys.STANDALONE_FIELD_MANAGER, force=True
            )
            logger.info("Standalone mode: applied %s %s/%s", kind.kind, effective.namespace, name)
        if kind is standalone.DEPLOYMENT and current is not None:
            deployment_status = current.get("status")
    return standalone.readiness(deployment_status, effective), None


COPY_ANNOTATION = f"{keys.GROUP}/copy-of"


def defaults_copies(
    core: client.CoreV1Api, body: Mapping[str, Any], needed: set[str], previous: Iterable[str]
) -> list[str]:
    """Keep a copy of ``body`` (cluster-default's ConfigMap) in each ``needed`` namespace, delete
    the copies in ``previous`` ones no longer needed; the namespaces holding a copy now."""
    source = f"{body['metadata']['namespace']}/{body['metadata']['name']}"
    name = body["metadata"]["name"]
    holding = []
    for namespace in sorted(needed):
        copy = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": dict(body["metadata"]["labels"]),
                "annotations": {COPY_ANNOTATION: source},
            },
            "data": dict(body["data"]),
        }
        try:
            existing = core.read_namespaced_config_map(name, namespace)
        except client.ApiException as error:
            if error.status != 404:
                raise
            core.create_namespaced_config_map(namespace, copy)
            logger.info("copied the defaults of %s to namespace %s", source, namespace)
            holding.append(namespace)
            continue
        if (existing.metadata.annotations or {}).get(COPY_ANNOTATION) != source:
            logger.warning("ConfigMap %s/%s is not a copy of %s: left alone", namespace, name, source)
            continue
        if (existing.data or {}) != copy["data"]:
            core.patch_namespaced_config_map(name, namespace, {"data": copy["data"]})
        holding.append(namespace)
    for namespace in sorted(set(previous) - needed):
        try:
            existing = core.read_namespaced_config_map(name, namespace)
        except client.ApiException as error:
            if error.status != 404:
                raise
            continue
        if (existing.metadata.annotations or {}).get(COPY_ANNOTATION) == source:
            core.delete_namespaced_config_map(name, namespace)
            logger.info("deleted the copy of %s in namespace %s: no Pod needs it", source, namespace)
    return holding


def rollout(
    api: client.ApiClient, effective: model.EffectiveConfig, pods: Iterable[workloads.InjectedPod]
) -> dict[str, Any]:
    """Roll outdated workloads when the resource asks for it; the status's ``workloads`` block."""
    wiring = effective.wiring_hash()
    current = workloads.workloads_status(pods, wiring)
    rolled = 0
    for ref in current.outdated if effective.rollout_on_change else ():
        workload = kubeapi.get(api, "apps/v1", workloads.KINDS[ref.kind], ref.namespace, ref.name)
        if workload is None:
            continue
        if workloads.rollout_stamp(workload) != wiring:
            kubeapi.apply(
                api,
                "apps/v1",
                workloads.KINDS[ref.kind],
                workloads.rollout_apply(ref, wiring),
                manager=keys.ROLLOUT_FIELD_MANAGER,
                force=True,
            )
            logger.info("%s: rolling onto the configuration of %s (wiring %s)", ref, effective.ref, wiring)
        rolled += 1
    return {
        "total": current.total,
        "upToDate": current.up_to_date,
        "rolled": rolled,
        "summary": f"{current.up_to_date}/{current.total}",
    }


@dataclasses.dataclass
class Ledger:
    """What the operator remembers between refreshes: Pods reported, repairs in flight."""

    reported: set[str] = dataclasses.field(default_factory=set)
    in_flight: dict[workloads.WorkloadRef, tuple[str, str]] = dataclasses.field(default_factory=dict)
    repaired: dict[ResourceKey, int] = dataclasses.field(default_factory=dict)
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)


def find_missing(
    api: client.ApiClient, config: settings.Settings, entitlements: Mapping[Any, Any], ledger: Ledger
) -> dict[ResourceKey, list[dict[str, Any]]]:
    """Opted-in Pods without a sidecar, by the resource that would serve them (reported once)."""
    skipped = keys.SYSTEM_NAMESPACES | {config.namespace}
    opted = {
        ns["metadata"]["name"]
        for ns in kubeapi.list_items(
            api, "v1", "namespaces", label_selector=f"{keys.NAMESPACE_INJECTION_LABEL}=enabled"
        )
    } - skipped
    pods: dict[str, dict[str, Any]] = {}
    for namespace in sorted(opted):
        for pod in kubeapi.list_items(api, "v1", "pods", namespace=namespace):
            pods[pod["metadata"]["uid"]] = pod
    for pod in kubeapi.list_items(api, "v1", "pods", label_selector=f"{keys.POD_INJECT_LABEL}=true"):
        if pod["metadata"]["namespace"] not in skipped:
            pods.setdefault(pod["metadata"]["uid"], pod)
    found: dict[ResourceKey, list[dict[str, Any]]] = {}
    for pod in pods.values():
        metadata = pod["metadata"]
        if not workloads.missing_sidecar(pod, metadata["namespace"] in opted):
            continue
        try:
            owner_ns, owner_name, _ = webhook.choose(
                config, metadata["namespace"], metadata.get("annotations") or {}, entitlements
            )
        except kopf.AdmissionError:
            continue  # no resource would serve it: the webhook would have denied it
        found.setdefault((owner_ns, owner_name), []).append(pod)
        with ledger.lock:
            first_time = metadata["uid"] not in ledger.reported
            ledger.reported.add(metadata["uid"])
        if first_time:
            kubeapi.post_event(
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
    core = client.CoreV1Api(api)
    for pod in missing:
        owner = workloads.owner_of(pod)
        if budget <= 0 or owner is None or owner.kind not in (*workloads.KINDS, "ReplicaSet"):
            continue
        if not _repair_settled(api, owner, ledger):
            continue
        metadata = pod["metadata"]
        kubeapi.post_event(
            api,
            pod,
            reason=keys.REPAIR_REASON,
            message=(
                f"deleted by the operator (spec.repairMissingSidecars of {effective.ref}): "
                f"{owner} recreates it with {keys.SIDECAR_CONTAINER}"
            ),
            event_type="Normal",
        )
        try:
            core.delete_namespaced_pod(metadata["name"], metadata["namespace"])
        except client.ApiException as error:
            if error.status != 404:
                raise
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
    if kubeapi.get(api, "v1", "pods", *previous) is not None:
        return False
    plural = workloads.KINDS.get(owner.kind, "replicasets")
    workload = kubeapi.get(api, "apps/v1", plural, owner.namespace, owner.name)
    if workload is not None and not _fully_ready(workload):
        return False
    with ledger.lock:
        ledger.in_flight.pop(owner, None)
    return True

"""The I/O around ``reconcile``: one StiggEntitlements resource brought in line, and its status written.

``reconcile_one`` reads what the pure functions need (cluster-default from kopf's index, the
Pods running the resource's sidecar: the injected ones from kopf's index, Standalone mode's
shared ones listed by label; their sidecars' states are the evidence that the referenced Secrets
exist, ``reconcile.secret_evidence``, since the operator may not read Secrets), renders the
defaults ConfigMap (owned by the resource: deleting the resource deletes it; someone else's
ConfigMap of that name is never taken over, ``ConfigMapConflict``; one the apiserver refuses
is ``ConfigMapRejected``, in its words), keeps up what the resource implies beyond it
(``upkeep``: cluster-default's copies, standalone objects, rollouts, Pods missing their
sidecar), and writes the status (``reconcile.status``, with the informational
``DefaultsInEnv`` and ``SecretsVerified``). ``reconcile_with_dependents``
is what a change to a resource triggers: that resource, and, for cluster-default, every
resource that inherits from it.
Called from the kopf adapters (``adapters.resources``) and the periodic refresh (``refresh``),
in a worker thread: every call here blocks. What it counts (rollouts started, refused copies,
failed reconciles, ``report_failure``) goes to the ``metrics.Metrics`` passed down.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Mapping
from typing import Any

from kubernetes import client

from stigg_operator import (
    keys,
    metrics,
    model,
    reconcile,
    settings,
    standalone,
    upkeep,
    webhookconfig,
    workloads,
)
from stigg_operator.kube import configmaps, events, pods, rest, status

logger = logging.getLogger(__name__)

Index = Mapping[Any, Any]


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def entry(body: Mapping[str, Any]) -> dict[str, Any]:
    """What the index ``entitlements`` keeps of a StiggEntitlements (and the reconciler reads)."""
    return {
        "spec": dict(body.get("spec") or {}),
        "uid": body["metadata"]["uid"],
        "generation": body["metadata"].get("generation", 1),
        "conditions": list((body.get("status") or {}).get("conditions") or []),
        "mode": (body.get("status") or {}).get("mode"),
        "copies": list((body.get("status") or {}).get("defaultsCopies") or []),
    }


def reconcile_with_dependents(  # noqa: PLR0917 -- one resource's coordinates, then the two indexes
    config: settings.Settings,
    namespace: str,
    name: str,
    resource: Mapping[str, Any],
    entitlements: Index,
    injected: Index,
    *,
    ledger: upkeep.Ledger,
    instruments: metrics.Metrics,
) -> None:
    """Reconcile a changed resource (looking for objects a previous mode left) and, if it is
    cluster-default, every other resource, since they inherit from it."""
    reconcile_one(
        config,
        namespace,
        name,
        resource,
        entitlements,
        injected,
        ledger=ledger,
        instruments=instruments,
        cleanup=True,
    )
    if (namespace, name) == model.cluster_default_key(config.namespace):
        for (other_ns, other_name), entries in list(entitlements.items()):
            if (other_ns, other_name) != (namespace, name):
                for other in entries:
                    reconcile_one(
                        config,
                        other_ns,
                        other_name,
                        other,
                        entitlements,
                        injected,
                        ledger=ledger,
                        instruments=instruments,
                    )


def reconcile_one(  # noqa: PLR0917 -- one resource's coordinates, then the two indexes
    config: settings.Settings,
    namespace: str,
    name: str,
    resource: Mapping[str, Any],
    entitlements: Index,
    injected: Index,
    *,
    ledger: upkeep.Ledger,
    instruments: metrics.Metrics,
    missing: list[dict[str, Any]] | None = None,
    cleanup: bool = False,
) -> model.EffectiveConfig | None:
    """Render one resource's ConfigMap, keep up what it implies, and write its status; the
    effective config if usable. ``resource``: its ``entry``; ``missing``: the opted-in Pods it
    serves that have no sidecar (None: not looked for this time); ``cleanup``: look for objects
    a previous mode left."""
    api = rest.shared_client()
    key = (namespace, name)
    is_cluster_default = key == model.cluster_default_key(config.namespace)
    spec = model.inherited_spec(config.namespace, key, resource["spec"], entitlements)
    problem: reconcile.Problem | None = None
    effective: model.EffectiveConfig | None = None
    try:
        effective = model.effective(namespace, name, spec, config.operator_defaults)
    except model.SpecError as error:
        problem = reconcile.Problem("InvalidSpec", str(error))
    configmap_name = None
    extra: dict[str, Any] = {}
    notes: list[reconcile.Note] = []
    if effective is not None:
        problem, secrets_note = reconcile.secret_evidence(effective, _sidecar_pods(api, effective, injected))
        notes.append(secrets_note)
        body = reconcile.configmap(effective, resource["uid"])
        where = f"{namespace}/{effective.configmap_name}"
        try:
            if not configmaps.apply_owned(api, body):
                problem = reconcile.Problem(
                    "ConfigMapConflict", f"ConfigMap {where} exists and is not ours: remove or rename it"
                )
        except client.ApiException as error:  # what the limits did not foresee: in the status too
            problem = reconcile.Problem(
                "ConfigMapRejected", f"spec.defaults: ConfigMap {where} not written: {rest.refusal(error)}"
            )
        notes.append(reconcile.defaults_env_note(effective))
        configmap_name = effective.configmap_name
        extra, upkeep_problem = _upkeep(
            effective,
            resource,
            injected,
            configmap=body,
            cluster_wide=is_cluster_default,
            ledger=ledger,
            instruments=instruments,
            missing=missing,
            cleanup=cleanup,
        )
        problem = problem or upkeep_problem
    # The policy the webhook applies to this namespace's Pods (cluster-default: the namespaces
    # without a resource of their own), as the refresh registers it.
    policies = webhookconfig.failure_policies(config.namespace, config.failure_policy, entitlements)
    extra["failurePolicy"] = policies.default if is_cluster_default else policies.of(namespace)
    body_status = reconcile.status(
        problem=problem,
        generation=resource["generation"],
        injected_pods=len(injected.get(f"{namespace}/{name}", [])),
        configmap_name=configmap_name,
        previous_conditions=resource.get("conditions") or [],
        now=_now(),
        extra=extra,
        notes=notes,
    )
    status.patch(api, namespace, name, body_status)
    return effective if problem is None else None


def _sidecar_pods(
    api: client.ApiClient, effective: model.EffectiveConfig, injected: Index
) -> list[workloads.InjectedPod]:
    """The Pods running the resource's sidecar: those injected from it (kopf's index) and, in
    Standalone mode, the shared Deployment's (which the index, selecting injected Pods, lacks)."""
    found = list(injected.get(effective.ref, []))
    if effective.is_standalone:
        shared = pods.labelled(api, effective.namespace, standalone.selector(effective))
        found += [pod for body in shared if (pod := workloads.injected_pod(body)) is not None]
    return found


def report_failure(  # noqa: PLR0917 -- the resource, what it raised, and where to record it
    namespace: str,
    name: str,
    uid: str,
    error: BaseException,
    ledger: upkeep.Ledger,
    instruments: metrics.Metrics,
) -> None:
    """A reconcile that raised, counted (every time, by ``metrics.failure_reason``) and as a
    Warning Event on the resource (once per distinct error), so it is seen beside the resource
    and not only in the operator's log."""
    instruments.reconcile_failed(metrics.failure_reason(error))
    message = f"reconcile failed: {type(error).__name__}: {error}"
    if isinstance(error, client.ApiException):
        message = f"reconcile failed: the apiserver said {rest.refusal(error)}"
    with ledger.lock:
        first_time = (namespace, name, message) not in ledger.failures
        ledger.failures.add((namespace, name, message))
    if not first_time:
        return
    try:
        events.post(
            rest.shared_client(),
            reconcile.resource_ref(namespace, name, uid),
            reason=keys.RECONCILE_FAILED_REASON,
            message=message,
        )
    except Exception:  # the apiserver unreachable: the log is all that is left
        logger.exception("could not report the failed reconcile of %s/%s", namespace, name)


def _upkeep(
    effective: model.EffectiveConfig,
    resource: Mapping[str, Any],
    injected: Index,
    *,
    configmap: Mapping[str, Any],
    cluster_wide: bool,
    ledger: upkeep.Ledger,
    instruments: metrics.Metrics,
    missing: list[dict[str, Any]] | None,
    cleanup: bool,
) -> tuple[dict[str, Any], reconcile.Problem | None]:
    """What a usable resource implies beyond its ConfigMap (see ``upkeep``): the status blocks
    it adds, and a problem to report if one of them cannot be done."""
    api = rest.shared_client()
    key = (effective.namespace, effective.name)
    pods = injected.get(effective.ref, [])
    extra: dict[str, Any] = {"mode": effective.mode}
    if cluster_wide:  # cluster-default: a copy of its ConfigMap where it serves Pods
        served = {pod.namespace for pod in pods} - {effective.namespace}
        extra["defaultsCopies"] = upkeep.defaults_copies(
            api, configmap, served, resource.get("copies") or [], ledger=ledger, instruments=instruments
        )
    extra["standalone"], problem = upkeep.standalone_objects(
        api,
        effective,
        resource["uid"],
        cluster_wide=cluster_wide,
        cleanup=cleanup or resource.get("mode") == model.STANDALONE_MODE,
    )
    extra["workloads"] = upkeep.rollout(api, effective, pods, instruments)
    if missing is not None:
        extra["missingSidecars"] = len(missing)
        upkeep.repair(api, effective, missing, ledger)
    extra["repairedPods"] = ledger.repaired.get(key, 0)
    return extra, problem

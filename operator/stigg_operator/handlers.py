"""Thin kopf adapters: indexes, the reconciler of StiggEntitlements, and the operator's startup.

``register(registry, config)`` installs every handler with the settings bound in (they are read
once, at the entry point). The handlers only read and write Kubernetes objects; the decisions
are ``model`` (merge), ``reconcile`` (ConfigMap and status) and ``certs``/``webhookconfig``.

* Index ``entitlements``: every StiggEntitlements by (namespace, name) → its spec, uid and
  status conditions. The webhook reads it on the admission path (never the API).
* Index ``injected``: Pods carrying the sidecar (``workloads.InjectedPod``: their wiring hash
  and owning workload), by the resource they were injected from.
* Reconcile on create, update, resume, and periodically (a task, not a kopf timer): render
  the effective configuration (cluster-default merged in) into the resource's ConfigMap
  (owned by it, so deleting the resource deletes it), check the referenced Secrets, keep up
  what the resource implies (``upkeep``: standalone objects, rollouts, Pods missing their
  sidecar), write the status. A change to cluster-default reconciles every resource that
  inherits from it.
* Workloads: ``workload_handlers`` carries a workload's opt-in annotation into its template.
* Startup: the webhook's certificates (from their Secret, renewed when due), the webhook server
  with a live-swappable TLS context, and the MutatingWebhookConfiguration with its caBundle.
"""

from __future__ import annotations

import asyncio
import datetime
import functools
import logging
import time
from collections.abc import Mapping
from typing import Any

import kopf
from kubernetes import client
from kubernetes import config as kubeconfig

from stigg_operator import (
    certs,
    keys,
    kubeapi,
    model,
    reconcile,
    settings,
    upkeep,
    webhook,
    webhookconfig,
    workload_handlers,
    workloads,
)

logger = logging.getLogger(__name__)
Index = Mapping[Any, Any]


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _load_kube_config() -> None:
    try:
        kubeconfig.load_incluster_config()
    except kubeconfig.ConfigException:
        kubeconfig.load_kube_config()


def _secret_keys(core: client.CoreV1Api, namespace: str, name: str) -> Mapping[str, str] | None:
    try:
        secret = core.read_namespaced_secret(name, namespace)
    except client.ApiException as error:
        if error.status == 404:
            return None
        raise
    return dict.fromkeys(secret.data or {}, "")


def _apply_configmap(core: client.CoreV1Api, body: dict[str, Any]) -> reconcile.Problem | None:
    """Create or update the defaults ConfigMap; never take over one that someone else made."""
    metadata = body["metadata"]
    try:
        existing = core.read_namespaced_config_map(metadata["name"], metadata["namespace"])
    except client.ApiException as error:
        if error.status != 404:
            raise
        core.create_namespaced_config_map(metadata["namespace"], body)
        return None
    owner_uid = body["metadata"]["ownerReferences"][0]["uid"]
    if not any(ref.uid == owner_uid for ref in existing.metadata.owner_references or []):
        where = f"{metadata['namespace']}/{metadata['name']}"
        return reconcile.Problem(
            "ConfigMapConflict", f"ConfigMap {where} exists and is not ours: remove or rename it"
        )
    if (existing.data or {}) != body["data"]:
        core.patch_namespaced_config_map(metadata["name"], metadata["namespace"], body)
    return None


def reconcile_one(  # noqa: PLR0917 -- one resource's coordinates, then the two indexes
    config: settings.Settings,
    namespace: str,
    name: str,
    entry: Mapping[str, Any],
    entitlements: Index,
    injected: Index,
    *,
    ledger: upkeep.Ledger,
    missing: list[dict[str, Any]] | None = None,
    cleanup: bool = False,
) -> model.EffectiveConfig | None:
    """Render one resource's ConfigMap, keep up what it implies, and write its status; the
    effective config if usable. ``missing``: the opted-in Pods it serves that have no sidecar
    (None: not looked for this time); ``cleanup``: look for objects a previous mode left."""
    api = kubeapi.shared_client()
    core = client.CoreV1Api(api)
    custom = client.CustomObjectsApi(api)
    spec: Mapping[str, Any] = entry["spec"]
    is_cluster_default = (namespace, name) == (config.namespace, keys.CLUSTER_DEFAULT_NAME)
    if not is_cluster_default:
        for base in entitlements.get((config.namespace, keys.CLUSTER_DEFAULT_NAME), []):
            spec = model.merge_specs(base["spec"], spec)
    problem: reconcile.Problem | None = None
    effective: model.EffectiveConfig | None = None
    try:
        effective = model.effective(namespace, name, spec, config.operator_defaults)
    except model.SpecError as error:
        problem = reconcile.Problem("InvalidSpec", str(error))
    configmap_name = None
    extra: dict[str, Any] = {}
    if effective is not None:
        secrets = {
            ref.name: _secret_keys(core, namespace, ref.name) for _, ref in reconcile.secret_refs(effective)
        }
        problem = reconcile.missing_secret_problem(effective, secrets)
        body = reconcile.configmap(effective)
        owner: dict[str, Any] = {
            "apiVersion": f"{keys.GROUP}/{keys.VERSION}",
            "kind": keys.KIND,
            "metadata": {"name": name, "namespace": namespace, "uid": entry["uid"]},
        }
        kopf.adopt(body, owner=kopf.Body(owner))  # type: ignore[arg-type]
        problem = _apply_configmap(core, body) or problem
        configmap_name = effective.configmap_name
        extra, upkeep_problem = _upkeep(
            api,
            effective,
            entry,
            injected,
            configmap=body,
            cluster_wide=is_cluster_default,
            ledger=ledger,
            missing=missing,
            cleanup=cleanup,
        )
        problem = problem or upkeep_problem
    status = reconcile.status(
        problem=problem,
        generation=entry["generation"],
        injected_pods=len(injected.get(f"{namespace}/{name}", [])),
        configmap_name=configmap_name,
        previous_conditions=entry.get("conditions") or [],
        now=_now(),
        extra=extra,
    )
    try:
        custom.patch_namespaced_custom_object_status(
            keys.GROUP, keys.VERSION, namespace, keys.PLURAL, name, {"status": status}
        )
    except client.ApiException as error:
        if error.status != 404:  # deleted meanwhile: nothing to report on
            raise
    return effective if problem is None else None


def _upkeep(
    api: client.ApiClient,
    effective: model.EffectiveConfig,
    entry: Mapping[str, Any],
    injected: Index,
    *,
    configmap: Mapping[str, Any],
    cluster_wide: bool,
    ledger: upkeep.Ledger,
    missing: list[dict[str, Any]] | None,
    cleanup: bool,
) -> tuple[dict[str, Any], reconcile.Problem | None]:
    """What a usable resource implies beyond its ConfigMap (see ``upkeep``): the status blocks
    it adds, and a problem to report if one of them cannot be done."""
    key = (effective.namespace, effective.name)
    pods = injected.get(effective.ref, [])
    extra: dict[str, Any] = {"mode": effective.mode}
    if cluster_wide:  # cluster-default: a copy of its ConfigMap where it serves Pods
        served = {pod.namespace for pod in pods} - {effective.namespace}
        copies = upkeep.defaults_copies(client.CoreV1Api(api), configmap, served, entry.get("copies") or [])
        extra["defaultsCopies"] = copies
    extra["standalone"], problem = upkeep.standalone_objects(
        api,
        effective,
        entry["uid"],
        cluster_wide=cluster_wide,
        cleanup=cleanup or entry.get("mode") == model.STANDALONE_MODE,
    )
    extra["workloads"] = upkeep.rollout(api, effective, pods)
    if missing is not None:
        extra["missingSidecars"] = len(missing)
        upkeep.repair(api, effective, missing, ledger)
    extra["repairedPods"] = ledger.repaired.get(key, 0)
    return extra, problem


def _entry(body: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "spec": dict(body.get("spec") or {}),
        "uid": body["metadata"]["uid"],
        "generation": body["metadata"].get("generation", 1),
        "conditions": list((body.get("status") or {}).get("conditions") or []),
        "mode": (body.get("status") or {}).get("mode"),
        "copies": list((body.get("status") or {}).get("defaultsCopies") or []),
    }


def register(registry: kopf.OperatorRegistry, config: settings.Settings) -> None:
    resource = (keys.GROUP, keys.VERSION, keys.PLURAL)

    @kopf.index(*resource, id="entitlements", registry=registry)
    def entitlements(
        *, namespace: str | None, name: str, body: kopf.Body, **_: Any
    ) -> dict[tuple[str | None, str], Any]:
        return {(namespace, name): _entry(body)}

    @kopf.index("", "v1", "pods", labels={keys.INJECTED_LABEL: "true"}, id="injected", registry=registry)
    def injected(*, body: kopf.Body, **_: Any) -> dict[str, workloads.InjectedPod] | None:
        pod = workloads.injected_pod(dict(body))
        return {pod.resource: pod} if pod is not None else None

    ledger = upkeep.Ledger()

    def _reconcile(namespace: str, name: str, body: kopf.Body, indexes: Mapping[str, Any]) -> None:
        entitlements: Index = indexes["entitlements"]
        injected: Index = indexes["injected"]
        reconcile_one(
            config, namespace, name, _entry(body), entitlements, injected, ledger=ledger, cleanup=True
        )
        if (namespace, name) == (config.namespace, keys.CLUSTER_DEFAULT_NAME):
            for (other_ns, other_name), entries in list(entitlements.items()):
                if (other_ns, other_name) != (namespace, name):
                    for entry in entries:
                        reconcile_one(
                            config, other_ns, other_name, entry, entitlements, injected, ledger=ledger
                        )

    @kopf.on.create(*resource, registry=registry)
    @kopf.on.update(*resource, field="spec", registry=registry)
    @kopf.on.resume(*resource, registry=registry)
    def reconcile_resource(
        *, namespace: str | None, name: str, body: kopf.Body, memo: kopf.Memo, **kwargs: Any
    ) -> None:
        # The indexes are live views: keep them for the periodic refresh (see _refresh_forever).
        # Each resource's memo is a shallow copy of the operator's, so "shared" is the same dict.
        memo["shared"].setdefault(
            "indexes", {"entitlements": kwargs["entitlements"], "injected": kwargs["injected"]}
        )
        _reconcile(namespace or "", name, body, kwargs)

    webhook.register(registry, config)
    workload_handlers.register(registry, config)

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        """In-cluster service account, else the kubeconfig (as the kubernetes client finds them)."""
        return kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)

    @kopf.on.startup(registry=registry)
    async def startup(*, settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
        settings.posting.level = logging.WARNING
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=keys.GROUP)
        settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=keys.GROUP)
        await asyncio.to_thread(_load_kube_config)
        live = certs.LiveCerts(await asyncio.to_thread(_ensure_certs, config))
        memo["certs"] = live
        settings.admission.server = kopf.WebhookServer(
            addr=config.webhook_address,
            port=config.webhook_port,
            context=live.context,
            certfile=live.bootstrap_cert,
            pkeyfile=live.bootstrap_key,
        )
        settings.admission.managed = None  # the configuration is ours: see webhookconfig
        await asyncio.to_thread(_apply_webhook_configuration, config, live.current.ca_pem)
        memo["shared"] = {"ledger": ledger}
        memo["rotation"] = asyncio.create_task(_rotate_forever(config, live))
        memo["refresh"] = asyncio.create_task(_refresh_forever(config, memo))

    @kopf.on.cleanup(registry=registry)
    async def cleanup(*, memo: kopf.Memo, **_: Any) -> None:
        for task_name in ("rotation", "refresh"):
            task = memo.get(task_name)
            if task is not None:
                task.cancel()


def _read_certs(core: client.CoreV1Api, config: settings.Settings) -> tuple[certs.WebhookCerts | None, bool]:
    try:
        secret = core.read_namespaced_secret(config.cert_secret, config.namespace)
    except client.ApiException as error:
        if error.status != 404:
            raise
        return None, False
    data: dict[str, str] = dict(secret.data or {})
    return certs.WebhookCerts.from_secret_data(data), True


def _ensure_certs(config: settings.Settings) -> certs.WebhookCerts:
    """Load the webhook's certificates from their Secret, renewing (or creating) them when due."""
    core = client.CoreV1Api()
    current, exists = _read_certs(core, config)
    now = _now()
    if not certs.needs_renewal(current, config.webhook_hosts, now, config.cert_renew_before) and current:
        return current
    previous = None if certs.needs_new_ca(current, now, config.cert_validity) else current
    fresh = certs.issue(config.webhook_hosts, config.cert_validity, previous)
    body = {
        "metadata": {"name": config.cert_secret, "namespace": config.namespace},
        "type": "Opaque",
        "data": fresh.secret_data(),
    }
    if exists:
        core.replace_namespaced_secret(config.cert_secret, config.namespace, body)
    else:
        core.create_namespaced_secret(config.namespace, body)
    logger.info("issued the webhook's serving certificate (serial %x), valid until %s",
                fresh.serial, fresh.serving_not_after.isoformat())  # fmt: skip
    return fresh


def _apply_webhook_configuration(config: settings.Settings, ca_pem: bytes) -> None:
    admission = client.AdmissionregistrationV1Api()
    body = webhookconfig.body(config, ca_pem)
    try:
        existing = admission.read_mutating_webhook_configuration(config.webhook_config_name)
    except client.ApiException as error:
        if error.status != 404:
            raise
        admission.create_mutating_webhook_configuration(body)
        return
    body["metadata"]["resourceVersion"] = existing.metadata.resource_version
    admission.replace_mutating_webhook_configuration(config.webhook_config_name, body)


async def _refresh_forever(config: settings.Settings, memo: kopf.Memo) -> None:
    """Every few seconds, count injected Pods and re-check Secrets for every resource (a Secret
    created later turns its resource Ready). A task of the operator's own rather than a kopf
    timer: timers put a finalizer on every resource, which blocks deleting it (and its
    namespace) whenever the operator is not running. Pods missing their sidecar are looked for
    every ``drift_interval_seconds`` (a list of every opted-in namespace's Pods)."""
    next_drift_scan = 0.0
    while True:
        await asyncio.sleep(config.status_interval_seconds)
        indexes = memo["shared"].get("indexes")
        if indexes is None:
            continue
        entitlements, injected = indexes["entitlements"], indexes["injected"]
        ledger: upkeep.Ledger = memo["shared"]["ledger"]
        missing = None  # not looked for this round: the status keeps the last count
        if time.monotonic() >= next_drift_scan:
            next_drift_scan = time.monotonic() + config.drift_interval_seconds
            try:
                missing = await asyncio.to_thread(
                    upkeep.find_missing, kubeapi.shared_client(), config, entitlements, ledger
                )
            except Exception:
                logger.exception("looking for Pods without their sidecar failed")
        for (namespace, name), entries in list(entitlements.items()):
            for entry in list(entries):
                try:
                    await asyncio.to_thread(
                        functools.partial(
                            reconcile_one,
                            config,
                            namespace,
                            name,
                            entry,
                            entitlements,
                            injected,
                            ledger=ledger,
                            missing=None if missing is None else missing.get((namespace, name), []),
                        )
                    )
                except Exception:  # one resource's trouble must not stop the others' status
                    logger.exception("refreshing the status of %s/%s failed", namespace, name)


async def _rotate_forever(config: settings.Settings, live: certs.LiveCerts) -> None:
    """Renew the serving certificate before it expires, without closing the listening socket."""
    check_every = max(1.0, min(60.0, config.cert_renew_before.total_seconds() / 4))
    while True:
        await asyncio.sleep(check_every)
        try:
            fresh = await asyncio.to_thread(_ensure_certs, config)
            if fresh.cert_pem != live.current.cert_pem:
                if fresh.ca_pem != live.current.ca_pem:  # a new CA: trust it before serving with it
                    await asyncio.to_thread(_apply_webhook_configuration, config, fresh.ca_pem)
                live.load(fresh)
                logger.info("rotated the webhook's serving certificate (serial %x)", fresh.serial)
        except Exception:  # a failed renewal is retried at the next check; the current cert still serves
            logger.exception("renewing the webhook's certificate failed")

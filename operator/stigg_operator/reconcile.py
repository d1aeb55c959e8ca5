"""Pure reconciliation: effective configuration → the desired ConfigMap, its copies, and status.

No I/O: ``reconciler`` reads what exists (the resource, cluster-default, the injected Pods and
their sidecars' states), calls these functions, and writes what they return.
``owner_reference`` is the one way an object the operator makes for a resource names it as its
owner (its defaults ConfigMap, Standalone mode's objects), so deleting the resource deletes them.
A copy of cluster-default's ConfigMap (``configmap_copy``) is owned by nobody (an owner
reference cannot cross namespaces) and marked with ``keys.COPY_ANNOTATION`` instead.

Status: ``Ready`` is True when the defaults ConfigMap is rendered and no sidecar is held for
want of a referenced Secret; otherwise False with a reason a person can act on
(``SecretNotFound``, ``SecretKeyNotFound``, ``InvalidSpec``, ``ConfigMapRejected``), and
``Degraded`` says the same the other way round. The operator reads no Secret (no RBAC for it):
``secret_evidence`` judges them from the sidecar containers' states the kubelet reports
(``workloads.SidecarState``), so before any Pod runs a Secret is only unverified.
Beside them, ``Note`` conditions inform without making the resource unready:
``DefaultsInEnv`` (``defaults_env_note``) says whether injected sidecars also get the defaults
in their env (``ENTITLEMENTS_FALLBACK``, within ``limits.ENV_DEFAULTS_BUDGET``) or from the
mounted ConfigMap only; ``SecretsVerified`` whether a started sidecar proved the Secrets.
``lastTransitionTime`` moves only when a condition's status changes.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
from collections.abc import Mapping, Sequence
from typing import Any

from stigg_operator import keys, limits, model, workloads


@dataclasses.dataclass(frozen=True)
class Problem:
    reason: str
    message: str


@dataclasses.dataclass(frozen=True)
class Note:
    """An informational condition: neither of its statuses makes the resource unready."""

    kind: str
    status: bool
    reason: str
    message: str


READY = "Ready"
DEGRADED = "Degraded"
DEFAULTS_IN_ENV = "DefaultsInEnv"
SECRETS_VERIFIED = "SecretsVerified"
CONDITIONS = (READY, DEGRADED, DEFAULTS_IN_ENV, SECRETS_VERIFIED)  # every condition type ``status`` writes


def defaults_env_note(config: model.EffectiveConfig) -> Note:
    """Whether the defaults also reach injected sidecars in their env, or from the ConfigMap only."""
    if not config.defaults:
        return Note(DEFAULTS_IN_ENV, False, "NoDefaults", "spec.defaults: none")
    size = len(limits.env_defaults_text(config.defaults).encode())
    if config.env_defaults() is None:
        return Note(
            DEFAULTS_IN_ENV,
            False,
            "OverEnvBudget",
            f"spec.defaults: {size} bytes as JSON, over the {limits.ENV_DEFAULTS_BUDGET}-byte budget of "
            f"the sidecar's {limits.ENV_DEFAULTS_VAR} env: sidecars read them from the mounted "
            "ConfigMap only (a Pod that starts before it is mounted has them once the kubelet mounts it)",
        )
    return Note(
        DEFAULTS_IN_ENV,
        True,
        "WithinEnvBudget",
        f"spec.defaults: {size} bytes as JSON, within the {limits.ENV_DEFAULTS_BUDGET}-byte budget of "
        f"the sidecar's {limits.ENV_DEFAULTS_VAR} env",
    )


def owner_reference(name: str, uid: str) -> dict[str, Any]:
    """The controller owner reference to the StiggEntitlements ``name`` (``uid``), same namespace."""
    return {
        "apiVersion": f"{keys.GROUP}/{keys.VERSION}",
        "kind": keys.KIND,
        "name": name,
        "uid": uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def resource_ref(namespace: str, name: str, uid: str) -> dict[str, Any]:
    """The StiggEntitlements ``namespace/name`` as an object an Event can be about."""
    return {
        "apiVersion": f"{keys.GROUP}/{keys.VERSION}",
        "kind": keys.KIND,
        "metadata": {"namespace": namespace, "name": name, "uid": uid},
    }


def configmap(config: model.EffectiveConfig, owner_uid: str) -> dict[str, Any]:
    """The defaults ConfigMap: one ``defaults.json`` key, mounted by the sidecar as a directory,
    owned by the resource (uid ``owner_uid``)."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": config.configmap_name,
            "namespace": config.namespace,
            "labels": {"app.kubernetes.io/managed-by": "stigg-operator", f"{keys.GROUP}/config": config.name},
            "ownerReferences": [owner_reference(config.name, owner_uid)],
        },
        "data": {keys.DEFAULTS_FILE: config.defaults_document()},
    }


def copy_source(body: Mapping[str, Any]) -> str:
    """What a copy of the ConfigMap ``body`` records as its source: ``<namespace>/<name>``."""
    return f"{body['metadata']['namespace']}/{body['metadata']['name']}"


def configmap_copy(body: Mapping[str, Any], namespace: str) -> dict[str, Any]:
    """A copy of the ConfigMap ``body`` (cluster-default's) for ``namespace``: same name, labels and
    data, marked as a copy, owned by nobody."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": body["metadata"]["name"],
            "namespace": namespace,
            "labels": dict(body["metadata"]["labels"]),
            "annotations": {keys.COPY_ANNOTATION: copy_source(body)},
        },
        "data": dict(body["data"]),
    }


def secret_refs(config: model.EffectiveConfig) -> list[tuple[str, model.SecretKeyRef]]:
    """Every Secret the sidecar will read, with the spec field that names it."""
    refs = []
    if config.api_key.name:
        refs.append(("spec.apiKeySecretRef", config.api_key))
    if config.redis is not None and config.redis.password is not None:
        refs.append(("spec.cache.redis.passwordSecretRef", config.redis.password))
    return refs


# What the kubelet says of a container whose env names a missing Secret or key
# (``CreateContainerConfigError``): kubelet/kuberuntime's ``makeEnvironmentVariables``.
CONFIG_ERROR = "CreateContainerConfigError"
_SECRET_NOT_FOUND = re.compile(r'secrets? "(?P<name>[^"]+)" not found')
_KEY_NOT_FOUND = re.compile(r"couldn't find key (?P<key>\S+) in Secret (?P<namespace>[^/\s]+)/(?P<name>\S+)")


def _refused(field: str, ref: model.SecretKeyRef, pods: Sequence[workloads.InjectedPod]) -> Problem | None:
    """The first Pod whose sidecar the kubelet holds for want of ``ref``'s Secret or key, as a
    problem naming the field, the Secret (in that Pod's namespace) and the Pod."""
    for missing_key in (False, True):
        pattern = _KEY_NOT_FOUND if missing_key else _SECRET_NOT_FOUND
        waiting = [
            pod
            for pod in pods
            if pod.sidecar.waiting_reason == CONFIG_ERROR
            and (match := pattern.search(pod.sidecar.waiting_message))
            and match["name"] == ref.name
            and (not missing_key or (match["key"] == ref.key and match["namespace"] == pod.namespace))
        ]
        if not waiting:
            continue
        pod = waiting[0]
        what = f"has no key {ref.key!r}" if missing_key else "does not exist"
        more = f" (and {len(waiting) - 1} more Pods)" if len(waiting) > 1 else ""
        return Problem(
            "SecretKeyNotFound" if missing_key else "SecretNotFound",
            f"{field}: Secret {pod.namespace}/{ref.name} {what}: the sidecar of Pod "
            f"{pod.namespace}/{pod.name}{more} cannot start ({CONFIG_ERROR}: {pod.sidecar.waiting_message})",
        )
    return None


def secret_evidence(
    config: model.EffectiveConfig, pods: Sequence[workloads.InjectedPod]
) -> tuple[Problem | None, Note]:
    """Whether the Secrets the sidecar reads exist, from the only evidence the operator has (it
    reads no Secret): the sidecar containers' states in the Pods ``pods`` (those injected from
    the resource, and Standalone mode's shared Pods). A sidecar the kubelet holds in
    ``CreateContainerConfigError`` for a referenced Secret or key is a problem
    (``SecretNotFound``, ``SecretKeyNotFound``); the ``SecretsVerified`` note is True once a
    sidecar of the current wiring started, and False (``Unverified``) until then, saying so."""
    refs = secret_refs(config)
    if not refs:
        return None, Note(SECRETS_VERIFIED, True, "NoSecrets", "the sidecar reads no Secret")
    for field, ref in refs:
        problem = _refused(field, ref, pods)
        if problem is not None:
            return problem, Note(SECRETS_VERIFIED, False, problem.reason, problem.message)
    names = ", ".join(f"{ref.name} (key {ref.key})" for _, ref in refs)
    wiring = config.wiring_hash()
    started = next((pod for pod in pods if pod.sidecar.started and pod.wiring == wiring), None)
    if started is not None:
        return None, Note(
            SECRETS_VERIFIED,
            True,
            "SidecarStarted",
            f"the sidecar of Pod {started.namespace}/{started.name} started with the current "
            f"configuration: Secret {names} present in namespace {started.namespace}",
        )
    return None, Note(
        SECRETS_VERIFIED,
        False,
        "Unverified",
        f"Secret {names} unverified: the operator reads no Secret, and no sidecar of the current "
        "configuration has started yet; one the kubelet cannot start for want of a Secret or key "
        "makes the resource Ready=False (SecretNotFound, SecretKeyNotFound)",
    )


def _condition(  # noqa: PLR0917 -- the fields of one condition
    kind: str,
    status: bool,
    reason: str,
    message: str,
    generation: int,
    previous: Mapping[str, Mapping[str, Any]],
    now: datetime.datetime,
) -> dict[str, Any]:
    value = "True" if status else "False"
    before = previous.get(kind)
    transition: str | None = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    if before is not None and before.get("status") == value:
        transition = before.get("lastTransitionTime") or transition
    return {
        "type": kind,
        "status": value,
        "reason": reason,
        "message": message,
        "lastTransitionTime": transition,
        "observedGeneration": generation,
    }


def status(
    *,
    problem: Problem | None,
    generation: int,
    injected_pods: int,
    configmap_name: str | None,
    previous_conditions: Sequence[Mapping[str, Any]],
    now: datetime.datetime,
    extra: Mapping[str, Any] | None = None,
    notes: Sequence[Note] = (),
) -> dict[str, Any]:
    """The status to merge-patch; ``extra`` adds blocks others computed (a None value removes one),
    ``notes`` informational conditions after Ready and Degraded."""
    previous = {str(c.get("type")): c for c in previous_conditions}
    if problem is None:
        ready = _condition(READY, True, "Reconciled", "defaults rendered", generation, previous, now)
        degraded = _condition(DEGRADED, False, "Reconciled", "", generation, previous, now)
    else:
        ready = _condition(READY, False, problem.reason, problem.message, generation, previous, now)
        degraded = _condition(DEGRADED, True, problem.reason, problem.message, generation, previous, now)
    body: dict[str, Any] = {
        "observedGeneration": generation,
        "injectedPods": injected_pods,
        "conditions": [
            ready,
            degraded,
            *(
                _condition(note.kind, note.status, note.reason, note.message, generation, previous, now)
                for note in notes
            ),
        ],
    }
    if configmap_name:
        body["configMap"] = configmap_name
    body.update(extra or {})
    return body

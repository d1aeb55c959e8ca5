"""Workloads, pure: opting a workload's Pods in, rolling it onto a changed configuration, and
telling which workload a Pod belongs to. No I/O: ``opt_in`` and ``upkeep`` read and
write the objects.

**Opt-in.** ``sidecar.stigg.io/inject: "true"`` on a Deployment, StatefulSet or DaemonSet (with
``sidecar.stigg.io/config: <name>`` optionally) asks for the Pod template label the webhook
selects on (``sidecar.stigg.io/inject=true``) and the config annotation; ``"false"`` asks for the
label ``false`` (an explicit opt-out, which wins over a namespace's opt-in); no annotation asks
for nothing. The operator writes exactly those template fields by server-side apply under its
own field manager (``keys.FIELD_MANAGER``), so: re-applying the user's manifest, whether by
``kubectl apply``, ``kubectl apply --server-side``, Argo CD or Flux, leaves them alone (no other
manager owns them, and a client-side apply only removes what its last-applied configuration
had); removing the annotation makes the operator apply an empty set, which removes the fields
it alone owns; and a template field the user set to another value is never forced (the apply
conflicts, and the user's value stands). ``opt_in_apply`` returns None when the workload is
already as asked, so events the operator's own writes cause settle at once.

**Rollout.** Each injected Pod records the wiring hash of what it was injected with
(``<namespace>/<resource>@<hash>``). ``rollout_apply`` stamps a workload's template with the
current hash (``keys.ROLLOUT_ANNOTATION``, another field manager), which makes its controller
roll it; a workload whose template already carries the hash is never stamped again, so one
change rolls each workload at most once, however long its rollout takes.

**Owners.** ``owner_of`` follows a Pod's controller reference: a ReplicaSet named after a
Deployment (``<deployment>-<pod-template-hash>``) stands for that Deployment; StatefulSets and
DaemonSets own their Pods directly. Only those three can be rolled or repaired.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from stigg_operator import keys
from stigg_operator.injection import patch

KINDS: Mapping[str, str] = {
    "Deployment": "deployments",
    "StatefulSet": "statefulsets",
    "DaemonSet": "daemonsets",
}
TEMPLATE_SECTIONS = ("labels", "annotations")


@dataclasses.dataclass(frozen=True, order=True)
class WorkloadRef:
    kind: str
    namespace: str
    name: str

    @property
    def rollable(self) -> bool:
        return self.kind in KINDS

    def __str__(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}"


class OptInError(ValueError):
    """The workload's opt-in annotation has a value that is neither "true" nor "false"."""


TemplateFields = dict[str, dict[str, str]]  # {"labels": {...}, "annotations": {...}}


def desired_opt_in(annotations: Mapping[str, str]) -> TemplateFields:
    """The template labels and annotations a workload's own annotations ask the operator for."""
    value = annotations.get(keys.WORKLOAD_INJECT_ANNOTATION)
    fields: TemplateFields = {"labels": {}, "annotations": {}}
    if value is None:
        return fields
    normalized = value.strip().lower()
    if normalized not in ("true", "false"):
        raise OptInError(
            f'annotation {keys.WORKLOAD_INJECT_ANNOTATION}: must be "true" or "false", got {value!r}'
        )
    fields["labels"][keys.POD_INJECT_LABEL] = normalized
    config = annotations.get(keys.CONFIG_ANNOTATION)
    if normalized == "true" and config:
        fields["annotations"][keys.CONFIG_ANNOTATION] = config
    return fields


def owned_template_fields(workload: Mapping[str, Any], manager: str) -> TemplateFields:
    """The template labels and annotations ``manager`` owns (by server-side apply), with their values."""
    template_meta = _template_metadata(workload)
    owned: TemplateFields = {"labels": {}, "annotations": {}}
    for entry in (workload.get("metadata") or {}).get("managedFields") or ():
        if entry.get("manager") != manager or entry.get("operation") != "Apply":
            continue
        fields = ((entry.get("fieldsV1") or {}).get("f:spec") or {}).get("f:template") or {}
        meta = fields.get("f:metadata") or {}
        for section in TEMPLATE_SECTIONS:
            for field in meta.get(f"f:{section}") or {}:
                if field.startswith("f:"):
                    key = field[2:]
                    owned[section][key] = str((template_meta.get(section) or {}).get(key, ""))
    return owned


def apply_body(ref: WorkloadRef, fields: TemplateFields | None = None) -> dict[str, Any]:
    """A server-side apply body for the workload setting exactly ``fields`` of its Pod template."""
    body: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": ref.kind,
        "metadata": {"name": ref.name, "namespace": ref.namespace},
    }
    template_meta = {section: dict(values) for section, values in (fields or {}).items() if values}
    if template_meta:
        body["spec"] = {"template": {"metadata": template_meta}}
    return body


def ref_of(workload: Mapping[str, Any]) -> WorkloadRef:
    metadata = workload.get("metadata") or {}
    return WorkloadRef(str(workload.get("kind")), str(metadata.get("namespace")), str(metadata.get("name")))


def opt_in_apply(workload: Mapping[str, Any]) -> dict[str, Any] | None:
    """The apply that brings the template in line with the opt-in annotations, or None if it is.

    Raises ``OptInError`` for an annotation value that is neither "true" nor "false".
    """
    desired = desired_opt_in((workload.get("metadata") or {}).get("annotations") or {})
    owned = owned_template_fields(workload, keys.FIELD_MANAGER)
    template_meta = _template_metadata(workload)
    present = all(
        (template_meta.get(section) or {}).get(key) == value
        for section, values in desired.items()
        for key, value in values.items()
    )
    owns_exactly = all(set(owned[section]) == set(desired[section]) for section in TEMPLATE_SECTIONS)
    if present and owns_exactly:
        return None
    return apply_body(ref_of(workload), desired)


def rollout_stamp(workload: Mapping[str, Any]) -> str | None:
    return (_template_metadata(workload).get("annotations") or {}).get(keys.ROLLOUT_ANNOTATION)


def rollout_apply(ref: WorkloadRef, wiring: str) -> dict[str, Any]:
    """Stamp the template with ``wiring``: the workload's controller rolls its Pods."""
    return apply_body(ref, {"annotations": {keys.ROLLOUT_ANNOTATION: wiring}})


def owner_of(pod: Mapping[str, Any]) -> WorkloadRef | None:
    """The workload that controls the Pod (a Deployment for its ReplicaSets' Pods), or None."""
    metadata = pod.get("metadata") or {}
    namespace = str(metadata.get("namespace") or "")
    for owner in metadata.get("ownerReferences") or ():
        if not owner.get("controller"):
            continue
        kind, name = str(owner.get("kind")), str(owner.get("name"))
        template_hash = (metadata.get("labels") or {}).get("pod-template-hash")
        if kind == "ReplicaSet" and template_hash and name.endswith(f"-{template_hash}"):
            return WorkloadRef("Deployment", namespace, name[: -len(template_hash) - 1])
        return WorkloadRef(kind, namespace, name)
    return None


@dataclasses.dataclass(frozen=True)
class SidecarState:
    """What the kubelet last said of a Pod's sidecar container: started (running, or its startup
    probe passed), or waiting with the kubelet's reason and message (``CreateContainerConfigError``,
    ``secret "k" not found``). Neither: not reported yet (no kubelet has seen the Pod)."""

    started: bool = False
    waiting_reason: str = ""
    waiting_message: str = ""


@dataclasses.dataclass(frozen=True)
class InjectedPod:
    """What the operator's index keeps of a Pod carrying the sidecar: which resource and wiring,
    its workload, and its sidecar's state (the operator's only evidence that Secrets exist)."""

    namespace: str
    name: str
    resource: str  # "<namespace>/<name>" of the StiggEntitlements it was injected from
    wiring: str
    owner: WorkloadRef | None
    sidecar: SidecarState = SidecarState()


def sidecar_state(pod: Mapping[str, Any]) -> SidecarState:
    """The sidecar container's state in the Pod's status: a native sidecar is among the init
    containers' statuses, Standalone mode's shared container among the containers'."""
    status = pod.get("status") or {}
    for entry in [*(status.get("initContainerStatuses") or ()), *(status.get("containerStatuses") or ())]:
        if entry.get("name") != keys.SIDECAR_CONTAINER:
            continue
        state = entry.get("state") or {}
        waiting = state.get("waiting") or {}
        return SidecarState(
            started=bool(entry.get("started")) or "running" in state,
            waiting_reason=str(waiting.get("reason") or ""),
            waiting_message=str(waiting.get("message") or ""),
        )
    return SidecarState()


def injected_pod(pod: Mapping[str, Any]) -> InjectedPod | None:
    metadata = pod.get("metadata") or {}
    recorded = (metadata.get("annotations") or {}).get(keys.INJECTED_ANNOTATION)
    if not recorded:
        return None
    resource, _, wiring = recorded.partition("@")
    return InjectedPod(
        str(metadata.get("namespace")),
        str(metadata.get("name")),
        resource,
        wiring,
        owner_of(pod),
        sidecar_state(pod),
    )


@dataclasses.dataclass(frozen=True)
class WorkloadsStatus:
    total: int
    up_to_date: int
    outdated: tuple[WorkloadRef, ...]  # rollable workloads with a Pod injected with another wiring


def workloads_status(pods: Iterable[InjectedPod], wiring: str) -> WorkloadsStatus:
    """Workloads carrying the sidecar from one resource, and which are behind ``wiring``."""
    current: dict[WorkloadRef, bool] = {}
    for pod in pods:
        if pod.owner is None:
            continue
        current[pod.owner] = current.get(pod.owner, True) and pod.wiring == wiring
    outdated = tuple(sorted(ref for ref, ok in current.items() if not ok and ref.rollable))
    return WorkloadsStatus(total=len(current), up_to_date=sum(current.values()), outdated=outdated)


def missing_sidecar(pod: Mapping[str, Any], namespace_opted_in: bool) -> bool:
    """An opted-in, live Pod that has no sidecar (the injector was not called, or was down)."""
    metadata = pod.get("metadata") or {}
    label = (metadata.get("labels") or {}).get(keys.POD_INJECT_LABEL)
    if label == "false" or not (namespace_opted_in or label == "true"):
        return False
    if metadata.get("deletionTimestamp") or (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return False
    return patch.skip_reason(pod) is None


def _template_metadata(workload: Mapping[str, Any]) -> Mapping[str, Any]:
    return ((workload.get("spec") or {}).get("template") or {}).get("metadata") or {}

"""The admission webhook: a thin ``@kopf.on.mutate`` adapter over ``injector``.

Only Pods the apiserver selected arrive here (see ``webhookconfig``), on CREATE only. The
handler picks the StiggEntitlements to use from kopf's in-memory index, never from the API:
the one the Pod's ``sidecar.stigg.io/config`` annotation names, else the namespace's only
one, else ``cluster-default``. Cluster-default is merged in, the injector computes the patch,
and kopf sends it back. (A Pod served by cluster-default mounts a copy of its defaults
ConfigMap, which the operator keeps in the Pod's namespace; until the copy exists, its sidecar
reads the same defaults from its env.) Anything that prevents a
correct injection denies the Pod with a message saying what to fix: never a silent Pod
without its sidecar.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import jsonpatch
import kopf

from stigg_operator import keys, model, settings
from stigg_operator.injection import errors
from stigg_operator.injection import patch as patcher

logger = logging.getLogger(__name__)
Index = Mapping[Any, Any]


def choose(
    config: settings.Settings, namespace: str, pod_annotations: Mapping[str, str], entitlements: Index
) -> tuple[str, str, Mapping[str, Any]]:
    """(namespace, name, merged spec) of the resource for this Pod; ``kopf.AdmissionError`` if none."""
    default_key = (config.namespace, keys.CLUSTER_DEFAULT_NAME)
    named = pod_annotations.get(keys.CONFIG_ANNOTATION)
    if named:
        key = (namespace, named)
        if key not in entitlements:
            raise kopf.AdmissionError(
                f"annotation {keys.CONFIG_ANNOTATION}: no StiggEntitlements {namespace}/{named}", code=400
            )
    else:
        local = sorted(name for (ns, name) in entitlements if ns == namespace)
        if namespace == config.namespace:
            local = [name for name in local if name != keys.CLUSTER_DEFAULT_NAME]
        if len(local) == 1:
            key = (namespace, local[0])
        elif len(local) > 1:
            raise kopf.AdmissionError(
                f"namespace {namespace} has several StiggEntitlements ({', '.join(local)}): "
                f"choose one with the annotation {keys.CONFIG_ANNOTATION}",
                code=400,
            )
        elif default_key in entitlements:
            key = default_key
        else:
            raise kopf.AdmissionError(
                f"no StiggEntitlements in namespace {namespace} and no {keys.CLUSTER_DEFAULT_NAME} in "
                f"{config.namespace}: create one to configure the sidecar, or opt the Pod out with the label "
                f"{keys.POD_INJECT_LABEL}=false",
                code=400,
            )
    (entry, *_) = list(entitlements[key])
    spec: Mapping[str, Any] = entry["spec"]
    if key != default_key:
        for base in entitlements.get(default_key, []):
            spec = model.merge_specs(base["spec"], spec)
    return key[0], key[1], spec


def register(registry: kopf.OperatorRegistry, config: settings.Settings) -> None:
    @kopf.on.mutate("", "v1", "pods", operation="CREATE", id="inject", registry=registry)
    def inject(
        *, body: kopf.Body, namespace: str | None, patch: kopf.Patch, warnings: list[str], **kwargs: Any
    ) -> None:
        entitlements: Index = kwargs["entitlements"]
        pod: dict[str, Any] = dict(body)
        ns = namespace or body.get("metadata", {}).get("namespace") or "default"
        reason = patcher.skip_reason(pod)
        if reason is not None:
            warnings.append(f"{keys.SIDECAR_CONTAINER} not injected: {reason}")
            return
        annotations: Mapping[str, str] = body.get("metadata", {}).get("annotations") or {}
        owner_ns, owner_name, spec = choose(config, ns, annotations, entitlements)
        try:
            effective = model.effective(owner_ns, owner_name, spec, config.operator_defaults)
        except model.SpecError as error:
            raise kopf.AdmissionError(
                f"StiggEntitlements {owner_ns}/{owner_name}: {error}", code=400
            ) from None
        try:
            ops = patcher.assemble(pod, effective)
        except errors.InjectionError as error:
            raise kopf.AdmissionError(str(error), code=400) from None
        patch.fns.append(lambda target: jsonpatch.apply_patch(target, ops, in_place=True))

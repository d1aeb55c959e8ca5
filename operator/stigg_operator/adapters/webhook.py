"""The admission webhook: a thin ``@kopf.on.mutate`` adapter over ``model`` and ``injection``.

Only Pods the apiserver selected arrive here (see ``webhookconfig``), on CREATE only. In order:
an object out of the shape the patcher reads is denied with the field named in words
(``injection.shape``: a review not sent by the apiserver may hold anything); a Pod the patcher
leaves alone (``patch.skip_reason``: already injected, opted out by annotation, ``hostNetwork``,
Windows) is admitted unchanged, with a warning saying why; the resource that serves it is
chosen from kopf's in-memory index (``model.select``, cluster-default merged in), and only a
miss is confirmed from the API before it becomes a denial (``kube.entitlements``: right after
a start, kopf may still be filling the index); its effective configuration is computed
(``model.effective``); the app's ConfigMaps an ``envFrom`` might set ``STIGG_SIDECAR_*`` from
are read, within a time budget (``read_configmaps``: ``kube.configmaps.read_for_env``; never a
Secret), so that their values are honoured; the patcher assembles the JSON Patch
(``patch.assemble``, warning of an ``envFrom`` it could not see through), and kopf sends it
back. (A Pod served by cluster-default mounts a copy of its defaults ConfigMap, which the
operator keeps in the Pod's namespace; until the copy exists, its sidecar reads the same
defaults from its env. Its API key comes from a Secret of the same name in the Pod's
namespace: the admission says so in a warning, ``borrowed_secret_warning``, since only the
kubelet would find it missing.)

This is the one place domain errors become denials (``kopf.AdmissionError``, code 400), each
with a message saying what to fix: ``model.NoServingResource``, ``model.SpecError`` (prefixed
with the resource), ``injection.errors.InjectionError``. Never a silent Pod without its sidecar.

``admit`` is the handler registered: ``inject`` timed and counted (``metrics.Metrics.admitted``)
by what came of it: ``injected`` (it returned True: a patch), ``skipped`` (False: admitted
unchanged on purpose), ``denied`` (``kopf.AdmissionError``), ``error`` (anything else it raised).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jsonpatch
import kopf

from stigg_operator import keys, metrics, model, settings
from stigg_operator.injection import envfrom, errors, shape
from stigg_operator.injection import patch as patcher
from stigg_operator.kube import configmaps as configmaps_api
from stigg_operator.kube import entitlements as entitlements_api
from stigg_operator.kube import rest

Lister = Callable[[str], model.Resources]  # a namespace → what could serve it, read from the API
# A namespace and ConfigMap names → what each holds (or why it is unknown), read from the API.
ConfigMapReader = Callable[[str, Sequence[str]], envfrom.Lookups]


def api_configmaps(namespace: str, names: Sequence[str]) -> envfrom.Lookups:
    """``read_configmaps`` for ``inject``: GETs by name, bounded (``kube.configmaps.read_for_env``)."""
    return configmaps_api.read_for_env(rest.shared_client(), namespace, names)


def api_lister(operator_namespace: str) -> Lister:
    """``list_serving`` for ``inject``: the namespace's resources and cluster-default, from the API."""

    def listed(namespace: str) -> model.Resources:
        return entitlements_api.serving_candidates(rest.shared_client(), namespace, operator_namespace)

    return listed


def inject(
    *,
    body: kopf.Body,
    namespace: str | None,
    patch: kopf.Patch,
    warnings: list[str],
    config: settings.Settings,
    list_serving: Lister,
    read_configmaps: ConfigMapReader = api_configmaps,
    **kwargs: Any,
) -> bool:
    """Admit the Pod ``body``, with the sidecar (True: ``patch`` holds it) or without (False, the
    reason in ``warnings``), or deny it (``kopf.AdmissionError``)."""
    entitlements: model.Resources = kwargs["entitlements"]
    malformed = shape.problem(dict(body))
    if malformed is not None:
        raise kopf.AdmissionError(f"malformed Pod: {malformed}", code=400)
    pod: dict[str, Any] = dict(body)
    ns = namespace or body.get("metadata", {}).get("namespace") or "default"
    reason = patcher.skip_reason(pod)
    if reason is not None:
        warnings.append(f"{keys.SIDECAR_CONTAINER} not injected: {reason}")
        return False
    annotations: Mapping[str, str] = body.get("metadata", {}).get("annotations") or {}
    try:
        serving = model.select(config.namespace, ns, annotations, entitlements)
    except model.NoServingResource as error:
        # A miss may be kopf still listing resources into the index (just after a start):
        # the API has the final word before a denial.
        try:
            serving = model.select(config.namespace, ns, annotations, list_serving(ns))
        except model.NoServingResource:
            raise kopf.AdmissionError(str(error), code=400) from None
    try:
        effective = model.effective(serving.namespace, serving.name, serving.spec, config.operator_defaults)
    except model.SpecError as error:
        raise kopf.AdmissionError(
            f"StiggEntitlements {serving.namespace}/{serving.name}: {error}", code=400
        ) from None
    spec = pod.get("spec") or {}
    wanted = envfrom.configmaps_to_read(
        [*(spec.get("containers") or ()), *(spec.get("initContainers") or ())]
    )
    configmaps = read_configmaps(ns, wanted) if wanted else {}
    try:
        ops = patcher.assemble(pod, effective, configmaps=configmaps, warnings=warnings)
    except errors.InjectionError as error:
        raise kopf.AdmissionError(str(error), code=400) from None
    warning = borrowed_secret_warning(ns, effective)
    if warning:
        warnings.append(warning)
    patch.fns.append(lambda target: jsonpatch.apply_patch(target, ops, in_place=True))
    return True


def admit(*, body: kopf.Body, namespace: str | None, instruments: metrics.Metrics, **kwargs: Any) -> None:
    """The admission handler: ``inject``, timed and counted by its result (see the docstring)."""
    metadata = body.get("metadata")  # the Pod may be malformed: ``inject`` denies it, counted
    ns = namespace or (metadata.get("namespace") if isinstance(metadata, Mapping) else None) or "default"
    started, result = time.perf_counter(), metrics.ERROR
    try:
        result = metrics.INJECTED if inject(body=body, namespace=namespace, **kwargs) else metrics.SKIPPED
    except kopf.AdmissionError:
        result = metrics.DENIED
        raise
    finally:
        instruments.admitted(ns, result, time.perf_counter() - started)


def borrowed_secret_warning(namespace: str, config: model.EffectiveConfig) -> str | None:
    """A warning for a Pod that a resource of another namespace (cluster-default) serves: its
    sidecar reads the API key from a Secret of that name in the Pod's own namespace (a
    ``secretKeyRef`` cannot cross namespaces), which the kubelet, not admission, finds missing."""
    if config.namespace == namespace or config.offline or not config.api_key.name:
        return None
    return (
        f"served by StiggEntitlements {config.ref}: the sidecar reads its API key from Secret "
        f"{config.api_key.name} (key {config.api_key.key}) in namespace {namespace}, which must exist there"
    )

"""ConfigMaps: a resource's defaults ConfigMap, and the copies of cluster-default's, by
server-side apply under the operator's field manager (``keys.FIELD_MANAGER``), forced.

Never taking over someone else's ConfigMap is the rule here: each write is preceded by a GET,
and only a ConfigMap the resource owns (an owner reference with its uid) or, for a copy, one
marked as a copy of that very source (``keys.COPY_ANNOTATION``) is written; an unchanged one is
not written at all, so a steady resource costs one GET per ConfigMap. A copy no Pod needs any
more is deleted, and only if it is still marked as a copy.

On the admission path, ``read_for_env`` reads the app's own ConfigMaps that an ``envFrom``
might set the injected variables from (``injection.envfrom``): GETs by name only, at most
``ENV_READ_MAX`` of them within ``ENV_READ_BUDGET_SECONDS`` in all (the webhook's timeout is
5 s); one not read in time, or refused, is reported as unknown, never an error.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence, Set
from typing import Any, Final

from kubernetes import client

from stigg_operator import keys, reconcile
from stigg_operator.injection import envfrom
from stigg_operator.kube import rest

logger = logging.getLogger(__name__)

ENV_READ_BUDGET_SECONDS: Final = 1.0
ENV_READ_MAX: Final = 8


def _apply(api: client.ApiClient, body: Mapping[str, Any]) -> None:
    rest.apply(api, "v1", "configmaps", body, manager=keys.FIELD_MANAGER, force=True)


def _get(api: client.ApiClient, namespace: str, name: str) -> dict[str, Any] | None:
    return rest.get(api, "v1", "configmaps", namespace, name)


def apply_owned(api: client.ApiClient, body: Mapping[str, Any]) -> bool:
    """Create or update the ConfigMap ``body`` (which carries its owner reference); False, and
    nothing written, if a ConfigMap of that name exists and is not owned by that owner."""
    metadata = body["metadata"]
    existing = _get(api, metadata["namespace"], metadata["name"])
    if existing is not None:
        owner_uid = metadata["ownerReferences"][0]["uid"]
        refs = (existing.get("metadata") or {}).get("ownerReferences") or ()
        if not any(ref.get("uid") == owner_uid for ref in refs):
            return False
        if (existing.get("data") or {}) == body["data"]:
            return True
    _apply(api, body)
    return True


def keep_copies(
    api: client.ApiClient, body: Mapping[str, Any], needed: Set[str], previous: Iterable[str]
) -> tuple[list[str], list[str]]:
    """Keep a copy of ``body`` (cluster-default's ConfigMap) in each ``needed`` namespace, delete
    the copies in ``previous`` ones no longer needed; the namespaces holding a copy now, and
    those where another ConfigMap has its name (left alone)."""
    source = reconcile.copy_source(body)
    name = body["metadata"]["name"]
    holding = []
    refused = []
    for namespace in sorted(needed):
        copy = reconcile.configmap_copy(body, namespace)
        existing = _get(api, namespace, name)
        if existing is None:
            _apply(api, copy)
            logger.info("copied the defaults of %s to namespace %s", source, namespace)
            holding.append(namespace)
            continue
        if _copy_of(existing) != source:
            logger.warning("ConfigMap %s/%s is not a copy of %s: left alone", namespace, name, source)
            refused.append(namespace)
            continue
        if (existing.get("data") or {}) != copy["data"]:
            _apply(api, copy)
        holding.append(namespace)
    for namespace in sorted(set(previous) - needed):
        existing = _get(api, namespace, name)
        if existing is not None and _copy_of(existing) == source:
            rest.delete(api, "v1", "configmaps", namespace, name)
            logger.info("deleted the copy of %s in namespace %s: no Pod needs it", source, namespace)
    return holding, refused


def _copy_of(configmap: Mapping[str, Any]) -> str | None:
    annotations: Mapping[str, str] = (configmap.get("metadata") or {}).get("annotations") or {}
    return annotations.get(keys.COPY_ANNOTATION)


def read_for_env(
    api: client.ApiClient,
    namespace: str,
    names: Sequence[str],
    *,
    budget_seconds: float = ENV_READ_BUDGET_SECONDS,
    most: int = ENV_READ_MAX,
) -> dict[str, envfrom.Lookup]:
    """What each ConfigMap ``names`` lists in ``namespace`` holds: its data, missing, or why it was
    not read (refused, too slow, over ``most``, past ``budget_seconds`` in all)."""
    deadline = time.monotonic() + budget_seconds
    found: dict[str, envfrom.Lookup] = {}
    for index, name in enumerate(names):
        remaining = deadline - time.monotonic()
        if index >= most:
            found[name] = envfrom.Lookup(problem=f"not read: over {most} ConfigMaps")
            continue
        if remaining <= 0:
            found[name] = envfrom.Lookup(problem=f"not read within {budget_seconds:g} s")
            continue
        try:
            body = rest.get(api, "v1", "configmaps", namespace, name, timeout=remaining)
        except client.ApiException as error:
            found[name] = envfrom.Lookup(problem=f"not read: {error.status}")
            continue
        except Exception as error:  # the transport's (a timeout, a reset): unknown, never a denial
            late = time.monotonic() >= deadline
            problem = f"not read within {budget_seconds:g} s" if late else f"not read: {type(error).__name__}"
            found[name] = envfrom.Lookup(problem=problem)
            continue
        if body is None:
            found[name] = envfrom.Lookup(missing=True)
        else:
            data = body.get("data") or {}
            found[name] = envfrom.Lookup(data={str(k): str(v) for k, v in data.items()})
    return found

"""Thin kopf adapters: carry a workload's opt-in annotation into its Pod template.

For every Deployment, StatefulSet and DaemonSet event (``kopf.on.event``: stateless, so kopf
writes nothing onto the user's objects), ``workloads.opt_in_apply`` says whether the template
differs from what the workload's annotations ask for; if so, the operator server-side applies
the difference under its own field manager, never forcing a field another manager owns. Then
the workload's controller rolls its Pods, and the webhook injects them (or, for an opt-out or a
removed annotation, does not). Workloads in system namespaces and the operator's own are left
alone, as the webhook leaves their Pods alone. A bad annotation value, or a template field held
by someone else, is posted once as a Warning Event on the workload.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import kopf
from kubernetes import client

from stigg_operator import keys, kubeapi, settings, workloads

logger = logging.getLogger(__name__)


def sync_opt_in(api: client.ApiClient, workload: Mapping[str, Any], reported: set[tuple[str, str]]) -> bool:
    """Apply the workload's opt-in to its template if needed; True if an apply was made."""
    ref = workloads.ref_of(workload)
    uid = str((workload.get("metadata") or {}).get("uid"))
    try:
        body = workloads.opt_in_apply(workload)
    except workloads.OptInError as error:
        _report_once(api, workload, reported, (uid, str(error)), "InvalidOptIn", str(error))
        return False
    if body is None:
        return False
    try:
        kubeapi.apply(
            api, "apps/v1", workloads.KINDS[ref.kind], body, manager=keys.FIELD_MANAGER, force=False
        )
    except client.ApiException as error:
        if error.status == 409:
            message = (
                f"the Pod template's {keys.POD_INJECT_LABEL} or {keys.CONFIG_ANNOTATION} is set by another "
                f"field manager to another value; the template's own value stands: {error.body}"
            )
            _report_once(api, workload, reported, (uid, "conflict"), "OptInConflict", message)
            return False
        if error.status == 404:  # deleted meanwhile
            return False
        raise
    logger.info(
        "%s: Pod template opt-in now %s", ref, body.get("spec", {}).get("template", {}).get("metadata", {})
    )
    return True


def _report_once(  # noqa: PLR0917 -- where, what, and the once-only memory
    api: client.ApiClient,
    workload: Mapping[str, Any],
    reported: set[tuple[str, str]],
    key: tuple[str, str],
    reason: str,
    message: str,
) -> None:
    if key in reported:
        return
    reported.add(key)
    logger.warning("%s: %s", workloads.ref_of(workload), message)
    kubeapi.post_event(api, workload, reason=reason, message=message)


def register(registry: kopf.OperatorRegistry, config: settings.Settings) -> None:
    skipped = keys.SYSTEM_NAMESPACES | {config.namespace}
    reported: set[tuple[str, str]] = set()

    for plural in workloads.KINDS.values():

        @kopf.on.event("apps", "v1", plural, id=f"opt-in-{plural}", registry=registry)
        def opt_in(*, body: kopf.Body, type: str | None, namespace: str | None, **_: Any) -> None:
            metadata = body.get("metadata", {})
            if type == "DELETED" or namespace in skipped or metadata.get("deletionTimestamp"):
                return
            if any(ref.get("kind") == keys.KIND for ref in metadata.get("ownerReferences") or ()):
                return  # Standalone mode's own Deployment: never opted in or out
            sync_opt_in(kubeapi.shared_client(), dict(body), reported)

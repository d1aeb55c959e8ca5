"""Carrying a workload's opt-in annotation into its Pod template (the I/O around ``workloads``).

``sync`` asks ``workloads.opt_in_apply`` whether the template differs from what the workload's
annotations ask for; if so, it server-side applies the difference under the operator's own
field manager (``keys.FIELD_MANAGER``), never forcing a field another manager owns. Then the
workload's controller rolls its Pods, and the webhook injects them (or, for an opt-out or a
removed annotation, does not). A bad annotation value (``OptInError``), or a template field held
by someone else (409), is posted once as a Warning Event on the workload; ``reported`` is that
memory, kept by the caller.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from kubernetes import client

from stigg_operator import keys, workloads
from stigg_operator.kube import events
from stigg_operator.kube import workloads as kube_workloads

logger = logging.getLogger(__name__)

Reported = set[tuple[str, str]]  # (workload uid, what was reported)


def sync(api: client.ApiClient, workload: Mapping[str, Any], reported: Reported) -> bool:
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
        kube_workloads.apply(api, ref, body, manager=keys.FIELD_MANAGER, force=False)
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
    reported: Reported,
    key: tuple[str, str],
    reason: str,
    message: str,
) -> None:
    if key in reported:
        return
    reported.add(key)
    logger.warning("%s: %s", workloads.ref_of(workload), message)
    events.post(api, workload, reason=reason, message=message)

"""The kopf adapter of workload events: carry a workload's opt-in annotation into its template.

``opt_in_event`` runs for every Deployment, StatefulSet and DaemonSet event in every replica
(``kopf.on.event``: stateless, so kopf writes nothing onto the user's objects) and, in the
leader only, hands the workload to ``opt_in.sync``. ``pending_opt_in`` is the index of
workloads whose template does not yet carry their opt-in (each replica keeps it current): the
leader's first refresh round of a term syncs those, so an event seen while another replica led
(or none did) is never lost. Both leave alone: a deletion, a workload being deleted, one in a
``skipped`` namespace (system ones and the operator's own, as the webhook leaves their Pods
alone), and Standalone mode's own Deployment (owned by a StiggEntitlements: never opted in or
out).
"""

from __future__ import annotations

from collections.abc import Set
from typing import Any

import kopf

from stigg_operator import keys, leadership, opt_in, workloads
from stigg_operator.adapters import resources
from stigg_operator.kube import rest


def concerned(body: kopf.Body, type: str | None, namespace: str | None, skipped: Set[str]) -> bool:
    """Whether the operator carries this workload's opt-in at all."""
    metadata = body.get("metadata", {})
    if type == "DELETED" or namespace in skipped or metadata.get("deletionTimestamp"):
        return False
    return not any(ref.get("kind") == keys.KIND for ref in metadata.get("ownerReferences") or ())


def pending_opt_in(
    *, body: kopf.Body, namespace: str | None, skipped: Set[str], **_: Any
) -> dict[str, dict[str, Any]] | None:
    """The index ``opt_ins``: the workload by uid, if its template does not carry its opt-in yet
    (or its annotation is invalid, for the leader to report); kopf drops deleted objects itself."""
    if not concerned(body, None, namespace, skipped):
        return None
    try:
        if workloads.opt_in_apply(dict(body)) is None:
            return None
    except workloads.OptInError:
        pass
    return {str(body["metadata"]["uid"]): dict(body)}


def opt_in_event(
    *,
    body: kopf.Body,
    type: str | None,  # kopf's name for the event type
    namespace: str | None,
    memo: kopf.Memo,
    skipped: Set[str],
    reported: opt_in.Reported,
    elector: leadership.Elector,
    **kwargs: Any,
) -> None:
    resources.keep_indexes(memo, kwargs)
    if elector.leading and concerned(body, type, namespace, skipped):
        opt_in.sync(rest.shared_client(), dict(body), reported)

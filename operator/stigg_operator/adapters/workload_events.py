"""The kopf adapter of workload events: carry a workload's opt-in annotation into its template.

``opt_in`` runs for every Deployment, StatefulSet and DaemonSet event (``kopf.on.event``:
stateless, so kopf writes nothing onto the user's objects) and hands the workload to
``opt_in.sync``, except: a deletion, a workload being deleted, one in a ``skipped`` namespace
(system ones and the operator's own, as the webhook leaves their Pods alone), and Standalone
mode's own Deployment (owned by a StiggEntitlements: never opted in or out).
"""

from __future__ import annotations

from collections.abc import Set
from typing import Any

import kopf

from stigg_operator import keys, opt_in
from stigg_operator.kube import rest


def opt_in_event(
    *,
    body: kopf.Body,
    type: str | None,  # kopf's name for the event type
    namespace: str | None,
    skipped: Set[str],
    reported: opt_in.Reported,
    **_: Any,
) -> None:
    metadata = body.get("metadata", {})
    if type == "DELETED" or namespace in skipped or metadata.get("deletionTimestamp"):
        return
    if any(ref.get("kind") == keys.KIND for ref in metadata.get("ownerReferences") or ()):
        return  # Standalone mode's own Deployment: never opted in or out
    opt_in.sync(rest.shared_client(), dict(body), reported)

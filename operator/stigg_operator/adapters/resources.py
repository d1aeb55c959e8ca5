"""The kopf adapter of StiggEntitlements events: reconcile a resource whose spec changed.

``reconcile_resource`` runs for every event of every StiggEntitlements in every replica
(``kopf.on.event``: stateless, so no replica writes kopf's progress or diff-base annotations,
and every replica's indexes stay current for its webhook), keeps kopf's indexes (live views) in
the shared memo for the periodic refresh (``keep_indexes``), and, in the leader only, reconciles
a resource whose ``metadata.generation`` (bumped by the apiserver on spec changes only, not on
the status the reconcile writes) it has not reconciled in this term, with its dependents
(``reconciler.reconcile_with_dependents``). A failure is a Warning Event; the generation stays
unrecorded, so the next refresh round retries it; it is counted too
(``stigg_operator_reconcile_errors_total``). What the leader missed while it was not leading,
its first refresh round of the term does (``refresh``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import kopf

from stigg_operator import leadership, metrics, reconciler, settings, upkeep

logger = logging.getLogger(__name__)

INDEXES = ("entitlements", "injected", "opt_ins")


def keep_indexes(memo: kopf.Memo, kwargs: Mapping[str, Any]) -> None:
    """Keep kopf's indexes in the shared memo (the first handler call: kopf calls handlers only
    once every index is filled, so their presence means the indexes are ready)."""
    memo["shared"].setdefault("indexes", {name: kwargs[name] for name in INDEXES})


def indexes_ready(*, memo: kopf.Memo, **kwargs: Any) -> None:
    """Any namespace's event: kopf calls handlers only once its indexes are filled, and there are
    always namespaces, so the refresh learns the indexes are complete even with no resource."""
    keep_indexes(memo, kwargs)


def reconcile_resource(
    *,
    namespace: str | None,
    name: str,
    body: kopf.Body,
    type: str | None,  # kopf's name for the event type
    memo: kopf.Memo,
    config: settings.Settings,
    ledger: upkeep.Ledger,
    elector: leadership.Elector,
    instruments: metrics.Metrics,
    **kwargs: Any,
) -> None:
    keep_indexes(memo, kwargs)
    if type == "DELETED" or not elector.leading:
        return
    uid, generation = body["metadata"]["uid"], body["metadata"].get("generation", 1)
    if ledger.reconciled.get(uid) == generation:
        return  # a status write of ours, or a change already reconciled
    try:
        reconciler.reconcile_with_dependents(
            config,
            namespace or "",
            name,
            reconciler.entry(body),
            kwargs["entitlements"],
            kwargs["injected"],
            ledger=ledger,
            instruments=instruments,
        )
    except Exception as error:  # retried by the next refresh round
        logger.exception("reconciling %s/%s failed", namespace, name)
        reconciler.report_failure(namespace or "", name, uid, error, ledger, instruments)
        return
    ledger.reconciled[uid] = generation

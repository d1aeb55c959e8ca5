"""The kopf adapter of StiggEntitlements changes: create, update of ``spec``, resume.

``reconcile_resource`` keeps kopf's indexes (live views) in the shared memo for the periodic
refresh (``refresh``; each resource's memo is a shallow copy of the operator's, so
``memo["shared"]`` is one dict), and reconciles the resource and, for cluster-default, its
dependents (``reconciler.reconcile_with_dependents``).
"""

from __future__ import annotations

from typing import Any

import kopf

from stigg_operator import reconciler, settings, upkeep


def reconcile_resource(
    *,
    namespace: str | None,
    name: str,
    body: kopf.Body,
    memo: kopf.Memo,
    config: settings.Settings,
    ledger: upkeep.Ledger,
    **kwargs: Any,
) -> None:
    entitlements, injected = kwargs["entitlements"], kwargs["injected"]
    memo["shared"].setdefault("indexes", {"entitlements": entitlements, "injected": injected})
    reconciler.reconcile_with_dependents(
        config, namespace or "", name, reconciler.entry(body), entitlements, injected, ledger=ledger
    )

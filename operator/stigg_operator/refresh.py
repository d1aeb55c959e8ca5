"""The periodic refresh: the operator's own task that re-reconciles every resource.

Every ``status_interval_seconds`` it counts injected Pods and re-checks Secrets for every
resource (a Secret created later turns its resource Ready), through ``reconciler``; every
``drift_interval_seconds`` it also looks for opted-in Pods missing their sidecar
(``upkeep.find_missing``: a list of every opted-in namespace's Pods) and hands each resource
its own. A task of the operator's own rather than a kopf timer: timers put a finalizer on every
resource, which blocks deleting it (and its namespace) whenever the operator is not running.
It reads kopf's indexes from ``memo["shared"]``, where the first reconcile keeps them (they are
live views); one resource's trouble never stops the others' status, and is a Warning Event
on that resource (``reconciler.report_failure``), not only a log line. Each round it also
registers the namespaces' webhook failure policies (``webhookconfig.failure_policies``) when
they changed, so a resource's ``spec.injection.failurePolicy`` takes effect within a round.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from typing import Any

import kopf

from stigg_operator import certs, reconciler, serving, settings, upkeep, webhookconfig
from stigg_operator.kube import rest

logger = logging.getLogger(__name__)


async def refresh_forever(config: settings.Settings, memo: kopf.Memo) -> None:
    next_drift_scan = 0.0
    while True:
        await asyncio.sleep(config.status_interval_seconds)
        indexes = memo["shared"].get("indexes")
        if indexes is None:
            continue
        entitlements, injected = indexes["entitlements"], indexes["injected"]
        ledger: upkeep.Ledger = memo["shared"]["ledger"]
        await _register_failure_policies(config, memo, entitlements)
        missing = None  # not looked for this round: the status keeps the last count
        if time.monotonic() >= next_drift_scan:
            next_drift_scan = time.monotonic() + config.drift_interval_seconds
            try:
                missing = await asyncio.to_thread(
                    upkeep.find_missing, rest.shared_client(), config, entitlements, ledger
                )
            except Exception:
                logger.exception("looking for Pods without their sidecar failed")
        for (namespace, name), entries in list(entitlements.items()):
            for entry in list(entries):
                try:
                    await asyncio.to_thread(
                        functools.partial(
                            reconciler.reconcile_one,
                            config,
                            namespace,
                            name,
                            entry,
                            entitlements,
                            injected,
                            ledger=ledger,
                            missing=None if missing is None else missing.get((namespace, name), []),
                        )
                    )
                except Exception as error:  # one resource's trouble must not stop the others' status
                    logger.exception("refreshing the status of %s/%s failed", namespace, name)
                    await asyncio.to_thread(
                        reconciler.report_failure, namespace, name, entry["uid"], error, ledger
                    )


async def _register_failure_policies(config: settings.Settings, memo: kopf.Memo, entitlements: Any) -> None:
    """Rewrite the webhook configuration when the namespaces' failure policies changed."""
    policies = webhookconfig.failure_policies(config.namespace, config.failure_policy, entitlements)
    if policies == memo["shared"].get("policies", webhookconfig.FailurePolicies(config.failure_policy)):
        return
    try:
        live: certs.LiveCerts = memo["certs"]
        await asyncio.to_thread(serving.apply_webhook_configuration, config, live.current.ca_pem, policies)
    except Exception:  # retried next round; until then the previous policies stay registered
        logger.exception("registering the webhook's failure policies failed")
        return
    memo["shared"]["policies"] = policies
    logger.info("webhook failure policy %s, except %s", policies.default, dict(policies.exceptions) or "none")

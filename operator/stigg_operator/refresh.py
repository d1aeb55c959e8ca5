"""The periodic refresh: the leader's own task that re-reconciles every resource.

It acts only while this replica leads (``leadership.Elector``), and at once when a term begins:
then nothing this replica did in an earlier term counts (every resource is reconciled again,
looking for objects a previous mode left, as a resumed operator would; the failure policies are
registered again; workloads whose template lacks their opt-in, the index ``opt_ins``, are
synced), so whatever happened while another replica led, or none did, is caught up. Every
``status_interval_seconds`` it counts injected Pods and reads their sidecars' states for every
resource (a referenced Secret a sidecar waits for is reported, and cleared once it starts),
through ``reconciler``; every
``drift_interval_seconds`` it also looks for opted-in Pods missing their sidecar
(``upkeep.find_missing``: a list of every opted-in namespace's Pods) and hands each resource
its own. A task of the operator's own rather than a kopf timer: timers put a finalizer on every
resource, which blocks deleting it (and its namespace) whenever the operator is not running.
It reads kopf's indexes from ``memo["shared"]``, where the first reconcile keeps them (they are
live views); one resource's trouble never stops the others' status, and is a Warning Event
on that resource (``reconciler.report_failure``), not only a log line. Each round it also
registers the namespaces' webhook failure policies (``webhookconfig.failure_policies``) when
they changed, so a resource's ``spec.injection.failurePolicy`` takes effect within a round.
The leader-only metrics are set here, and only while still leading once the work is done (a
lost Lease clears them, ``metrics.Metrics.leadership_changed``): the resources by condition
after every round, from kopf's index (the statuses as written), and the Pods missing their
sidecar after every drift scan.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from typing import Any

import kopf

from stigg_operator import (
    certs,
    leadership,
    metrics,
    opt_in,
    reconciler,
    serving,
    settings,
    upkeep,
    webhookconfig,
    workloads,
)
from stigg_operator.kube import admission, rest

logger = logging.getLogger(__name__)


async def refresh_forever(
    config: settings.Settings, memo: kopf.Memo, elector: leadership.Elector, instruments: metrics.Metrics
) -> None:
    """Refresh every ``status_interval_seconds`` while leading; at once when a term begins."""
    next_drift_scan, term = 0.0, 0
    while True:
        current = await elector.wait_leading()
        if current == term:
            await asyncio.sleep(config.status_interval_seconds)
            if not elector.leading:
                continue
        indexes = memo["shared"].get("indexes")
        if indexes is None:  # kopf has not filled its indexes yet
            await asyncio.sleep(min(1.0, config.status_interval_seconds))
            continue
        ledger: upkeep.Ledger = memo["shared"]["ledger"]
        if current != term:  # a new term: what this replica did when it led before counts no more
            term, next_drift_scan = current, 0.0
            ledger.reconciled.clear()
            memo["shared"].pop("policies", None)
            await _sync_pending_opt_ins(memo, indexes["opt_ins"])
        drift = time.monotonic() >= next_drift_scan
        if drift:
            next_drift_scan = time.monotonic() + config.drift_interval_seconds
        await _round(config, memo, indexes, ledger, elector, instruments, drift=drift)


async def _round(  # noqa: PLR0917 -- the refresh's state, passed down
    config: settings.Settings,
    memo: kopf.Memo,
    indexes: dict[str, Any],
    ledger: upkeep.Ledger,
    elector: leadership.Elector,
    instruments: metrics.Metrics,
    *,
    drift: bool,
) -> None:
    entitlements, injected = indexes["entitlements"], indexes["injected"]
    await _register_failure_policies(config, memo, entitlements)
    missing = None  # not looked for this round: the status keeps the last count
    if drift:
        try:
            missing = await asyncio.to_thread(
                upkeep.find_missing, rest.shared_client(), config, entitlements, ledger
            )
        except Exception:
            logger.exception("looking for Pods without their sidecar failed")
        if missing is not None and elector.leading:
            instruments.count_missing(missing)
    for (namespace, name), entries in list(entitlements.items()):
        for entry in list(entries):
            changed = ledger.reconciled.get(entry["uid"]) != entry["generation"]
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
                        instruments=instruments,
                        missing=None if missing is None else missing.get((namespace, name), []),
                        cleanup=changed,
                    )
                )
            except Exception as error:  # one resource's trouble must not stop the others' status
                logger.exception("refreshing the status of %s/%s failed", namespace, name)
                await asyncio.to_thread(
                    reconciler.report_failure, namespace, name, entry["uid"], error, ledger, instruments
                )
                continue
            ledger.reconciled[entry["uid"]] = entry["generation"]
    if elector.leading:
        instruments.count_resources(entitlements)


async def _sync_pending_opt_ins(memo: kopf.Memo, opt_ins: Any) -> None:
    """Carry the opt-in of every workload whose template lacks it (events of another term)."""
    for entries in list(opt_ins.values()):
        for workload in list(entries):
            try:
                await asyncio.to_thread(
                    opt_in.sync, rest.shared_client(), workload, memo["shared"]["reported"]
                )
            except Exception:  # its next event, or the next term, tries again
                logger.exception("carrying the opt-in of %s failed", workloads.ref_of(workload))


def _trusted(config: settings.Settings, current: certs.WebhookCerts) -> bool:
    """Whether the live configuration still trusts our CA (someone may have edited it)."""
    found = admission.bundles(rest.shared_client(), config.webhook_config_name)
    return bool(found) and all(current.ca_pem in bundle for bundle in found or [])


async def _register_failure_policies(config: settings.Settings, memo: kopf.Memo, entitlements: Any) -> None:
    """Rewrite the webhook configuration when the namespaces' failure policies (or the CA) changed,
    or when it no longer trusts the CA (edited, or restored from an old backup)."""
    policies = webhookconfig.failure_policies(config.namespace, config.failure_policy, entitlements)
    live: certs.LiveCerts = memo["certs"]
    registered = (policies, live.current.bundle)
    if registered == memo["shared"].get("policies") and await asyncio.to_thread(
        _trusted, config, live.current
    ):
        return
    try:
        await asyncio.to_thread(serving.apply_webhook_configuration, config, live.current.bundle, policies)
    except Exception:  # retried next round; until then the previous policies stay registered
        logger.exception("registering the webhook's failure policies failed")
        return
    memo["shared"]["policies"] = registered
    logger.info("webhook failure policy %s, except %s", policies.default, dict(policies.exceptions) or "none")

"""kopf registration, and only that: ``register`` decorates the plain module-level handlers.

``register(registry, config, elector, instruments)`` installs every handler of the operator on
``registry`` with the settings (read once, at the entry point), this replica's view of the leader
election (``leadership.Elector``), its metrics (``metrics.Metrics``) and the operator's memory
between refreshes (``upkeep.Ledger``) bound in by ``functools.partial``; the handlers themselves
are thin adapters, one module per kind of event, over the pure core and ``kube``. Every replica
runs all of them (so every replica's indexes and webhook are current); the writing ones act in
the leader only:

* ``indexes``: ``entitlements`` (every StiggEntitlements by (namespace, name) → its spec, uid
  and status; the webhook reads it on the admission path, never the API), ``injected`` (Pods
  carrying the sidecar, by the resource they were injected from) and ``opt_ins``
  (``workload_events.pending_opt_in``: workloads whose template lacks their opt-in);
* ``resources``: ``reconcile_resource`` on every StiggEntitlements event (a new generation), and
  ``indexes_ready`` on every namespace event (the indexes are filled: the refresh may start);
* ``webhook``: ``admit`` (``inject``, timed and counted), the mutating admission handler (id
  ``inject``, so path ``/inject``);
* ``workload_events``: ``opt_in_event`` for every Deployment, StatefulSet and DaemonSet event;
* ``lifecycle``: ``login``, ``startup`` (certificates, webhook server, webhook configuration, the
  operator's own tasks, ``/metrics``) and ``cleanup``.
"""

from __future__ import annotations

import functools

import kopf

from stigg_operator import keys, leadership, metrics, settings, upkeep, workloads
from stigg_operator.adapters import indexes, lifecycle, resources, webhook, workload_events

RESOURCE = (keys.GROUP, keys.VERSION, keys.PLURAL)


def register(
    registry: kopf.OperatorRegistry,
    config: settings.Settings,
    elector: leadership.Elector,
    instruments: metrics.Metrics,
) -> None:
    """Install every handler of the operator on ``registry``, bound to ``config``, ``elector`` and
    ``instruments``."""
    ledger = upkeep.Ledger()
    skipped = keys.SYSTEM_NAMESPACES | {config.namespace}
    kopf.index(*RESOURCE, id="entitlements", registry=registry)(indexes.entitlements)
    kopf.index("", "v1", "pods", labels={keys.INJECTED_LABEL: "true"}, id="injected", registry=registry)(
        indexes.injected
    )
    pending = functools.partial(workload_events.pending_opt_in, skipped=skipped)
    for plural in workloads.KINDS.values():
        kopf.index("apps", "v1", plural, id="opt_ins", registry=registry)(pending)

    reconcile = functools.partial(
        resources.reconcile_resource, config=config, ledger=ledger, elector=elector, instruments=instruments
    )
    kopf.on.event(*RESOURCE, id="reconcile_resource", registry=registry)(reconcile)
    kopf.on.event("", "v1", "namespaces", id="indexes_ready", registry=registry)(resources.indexes_ready)

    kopf.on.mutate("", "v1", "pods", operations={"CREATE"}, id="inject", registry=registry)(
        functools.partial(
            webhook.admit,
            config=config,
            list_serving=webhook.api_lister(config.namespace),
            instruments=instruments,
        )
    )

    reported: set[tuple[str, str]] = set()
    opt_in = functools.partial(
        workload_events.opt_in_event, skipped=skipped, reported=reported, elector=elector
    )
    for plural in workloads.KINDS.values():
        kopf.on.event("apps", "v1", plural, id=f"opt-in-{plural}", registry=registry)(opt_in)

    kopf.on.login(id="login", registry=registry)(lifecycle.login)
    kopf.on.startup(id="startup", registry=registry)(
        functools.partial(
            lifecycle.startup,
            config=config,
            ledger=ledger,
            elector=elector,
            reported=reported,
            instruments=instruments,
        )
    )
    kopf.on.cleanup(id="cleanup", registry=registry)(functools.partial(lifecycle.cleanup, elector=elector))

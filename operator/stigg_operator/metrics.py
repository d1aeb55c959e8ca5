"""The operator's Prometheus metrics: the instruments, on a registry of their own, and the pure
rules that turn what the operator sees into their values.

``main`` makes one ``Metrics`` per process and passes it, as it passes the settings, to what
records (the admission handler, the reconciles, the refresh, the leader election, the startup);
``metrics_endpoint`` serves ``exposition`` on ``/metrics``. A registry of its own, never
prometheus_client's global one, so tests build several side by side. The contract (alerts, the
dashboard and the chart read these names; never rename one):

* ``stigg_operator_admissions_total{namespace, result}`` and
  ``stigg_operator_admission_duration_seconds{result}`` (``ADMISSION_BUCKETS``, 1 ms to 10 s: the
  apiserver's own ceiling for a webhook): every admission review of a Pod, ``result`` one of
  ``RESULTS``: ``injected`` (a patch with the sidecar sent back), ``skipped`` (admitted unchanged
  on purpose: already injected, opted out by annotation, ``hostNetwork``, Windows; a Pod that is
  not opted in never reaches the webhook, see ``webhookconfig``), ``denied`` (refused with a
  reason, ``kopf.AdmissionError``: malformed, no serving resource, a bad spec or annotation) and
  ``error`` (the handler raised anything else: kopf answers 500, and the failurePolicy decides);
* ``stigg_operator_reconcile_errors_total{reason}``: every reconcile that raised (each time, not
  once like its ``ReconcileFailed`` Event), ``reason`` the exception's class name
  (``failure_reason``), and every refused copy of cluster-default's ConfigMap
  (``DefaultsCopyConflict``, each reconcile that meets it): code-bounded, never a message;
* ``stigg_operator_rollouts_total{namespace}``: workloads stamped to roll onto a new wiring (one
  per stamp, so one per workload per configuration change);
* ``stigg_operator_resources{condition, status}``: StiggEntitlements by each condition type the
  operator writes (``reconcile.CONDITIONS``) and its status as last written (kopf's index of the
  resources; a resource without that condition yet counts ``Unknown``, so each condition's three
  statuses add up to the number of resources: ``condition_counts``);
* ``stigg_operator_missing_sidecars{namespace}``: opted-in Pods found without the sidecar by the
  last drift scan, by the Pod's namespace (a namespace with none has no series);
* ``stigg_operator_certificate_expiry_timestamp_seconds``: notAfter of the serving certificate
  this replica serves now (read at scrape time, so a rotation shows at once);
* ``stigg_operator_leader``: 1 while this replica holds the Lease, else 0.

The two counts of the cluster's state (resources, missing sidecars) are the leader's: only it
reconciles and scans, so only it sets them, and ``leadership_changed(False)`` removes them, so a
follower exports no such series at all (never a stale one from a past term; the next term's first
round sets them again). Beside those, the process's own collectors (CPU, memory, file descriptors,
GC, Python version), as prometheus_client's default registry would have them.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

import prometheus_client
from prometheus_client import exposition as prometheus_exposition

from stigg_operator import model, reconcile

INJECTED: Final = "injected"
SKIPPED: Final = "skipped"
DENIED: Final = "denied"
ERROR: Final = "error"
RESULTS = (INJECTED, SKIPPED, DENIED, ERROR)

STATUSES = ("True", "False", "Unknown")
UNKNOWN = "Unknown"
ADMISSION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def failure_reason(error: BaseException) -> str:
    """The ``reason`` of a reconcile that raised: its class name (bounded by the code, unlike its
    message, which names objects)."""
    return type(error).__name__


def condition_counts(resources: model.Resources) -> dict[tuple[str, str], int]:
    """How many resources of kopf's index ``entitlements`` (entries of ``reconciler.entry``) have
    each condition of ``reconcile.CONDITIONS`` in each of ``STATUSES``: every pair, zeros too; a
    condition absent from a resource, or with a status none of those, counts ``Unknown``."""
    counts = dict.fromkeys(((kind, status) for kind in reconcile.CONDITIONS for status in STATUSES), 0)
    for entries in resources.values():
        for entry in entries:
            written = {str(c.get("type")): str(c.get("status")) for c in entry.get("conditions") or ()}
            for kind in reconcile.CONDITIONS:
                status = written.get(kind, UNKNOWN)
                counts[kind, status if status in STATUSES else UNKNOWN] += 1
    return counts


def missing_by_namespace(missing: Mapping[Any, Iterable[Mapping[str, Any]]]) -> dict[str, int]:
    """Opted-in Pods without their sidecar (``upkeep.find_missing``: by serving resource) by the
    Pod's own namespace (cluster-default serves Pods of other namespaces than its own)."""
    counts: dict[str, int] = {}
    for pods in missing.values():
        for pod in pods:
            namespace = str((pod.get("metadata") or {}).get("namespace") or "")
            counts[namespace] = counts.get(namespace, 0) + 1
    return counts


class Metrics:
    """The operator's instruments (see the module docstring), on ``registry``, their own."""

    def __init__(self) -> None:
        self.registry = prometheus_client.CollectorRegistry()
        prometheus_client.ProcessCollector(registry=self.registry)
        prometheus_client.PlatformCollector(registry=self.registry)
        prometheus_client.GCCollector(registry=self.registry)
        self.admissions = prometheus_client.Counter(
            "stigg_operator_admissions",
            "Admission reviews of Pods, by namespace and result (injected, skipped, denied, error).",
            ["namespace", "result"],
            registry=self.registry,
        )
        self.admission_duration = prometheus_client.Histogram(
            "stigg_operator_admission_duration_seconds",
            "Time the admission handler took to answer, by result.",
            ["result"],
            buckets=ADMISSION_BUCKETS,
            registry=self.registry,
        )
        self.reconcile_errors = prometheus_client.Counter(
            "stigg_operator_reconcile_errors",
            "Reconciles that failed (reason: the exception's class) and refused defaults copies.",
            ["reason"],
            registry=self.registry,
        )
        self.rollouts = prometheus_client.Counter(
            "stigg_operator_rollouts",
            "Workloads the operator stamped to roll onto a changed configuration.",
            ["namespace"],
            registry=self.registry,
        )
        self.resources = prometheus_client.Gauge(
            "stigg_operator_resources",
            "StiggEntitlements by condition and status, as last written (the leader only).",
            ["condition", "status"],
            registry=self.registry,
        )
        self.missing_sidecars = prometheus_client.Gauge(
            "stigg_operator_missing_sidecars",
            "Opted-in Pods the last drift scan found without the sidecar (the leader only).",
            ["namespace"],
            registry=self.registry,
        )
        self.certificate_expiry = prometheus_client.Gauge(
            "stigg_operator_certificate_expiry_timestamp_seconds",
            "Unix time at which the webhook serving certificate this replica serves expires.",
            registry=self.registry,
        )
        self.leader = prometheus_client.Gauge(
            "stigg_operator_leader",
            "1 while this replica holds the Lease (the writer), else 0.",
            registry=self.registry,
        )
        for result in RESULTS:  # every result's series from the start: rate() sees the first one
            self.admission_duration.labels(result)

    def admitted(self, namespace: str, result: str, seconds: float) -> None:
        """One admission review answered with ``result`` (one of ``RESULTS``) after ``seconds``."""
        self.admissions.labels(namespace, result).inc()
        self.admission_duration.labels(result).observe(seconds)

    def reconcile_failed(self, reason: str) -> None:
        self.reconcile_errors.labels(reason).inc()

    def rollout_started(self, namespace: str) -> None:
        self.rollouts.labels(namespace).inc()

    def count_resources(self, resources: model.Resources) -> None:
        """Set ``stigg_operator_resources`` from kopf's index (the leader, after a refresh round)."""
        for (kind, status), count in condition_counts(resources).items():
            self.resources.labels(kind, status).set(count)

    def count_missing(self, missing: Mapping[Any, Iterable[Mapping[str, Any]]]) -> None:
        """Set ``stigg_operator_missing_sidecars`` to the last drift scan's finding, and only it."""
        counts = missing_by_namespace(missing)
        self.missing_sidecars.clear()
        for namespace, count in counts.items():
            self.missing_sidecars.labels(namespace).set(count)

    def leadership_changed(self, leading: bool) -> None:
        """This replica gained or lost the Lease; a follower keeps no leader-only series."""
        self.leader.set(1 if leading else 0)
        if not leading:
            self.resources.clear()
            self.missing_sidecars.clear()

    def serve_certificate(self, not_after: Callable[[], datetime.datetime]) -> None:
        """Report ``not_after()`` (the serving certificate's, read at every scrape) as the expiry."""
        self.certificate_expiry.set_function(lambda: not_after().timestamp())

    def exposition(self, accept: str = "") -> tuple[bytes, str]:
        """The registry's samples and their content type, in the format ``accept`` asks for (the
        Prometheus text format unless it asks for OpenMetrics)."""
        encode, content_type = prometheus_exposition.choose_encoder(accept)
        return encode(self.registry), content_type

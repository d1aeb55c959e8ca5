"""Monitoring, live: a real Prometheus (``stigg_devkit.prometheus``) runs as a Pod of the
cluster, finds the operator's Pods and an injected application's sidecar with the jobs the
chart's PodMonitors describe, and evaluates the chart's alerts
(``charts/stigg-entitlements/monitoring/alerts.yaml``) five times faster (every ``for:`` and
range window divided by 5: the expressions are otherwise the chart's own).

* every query of the dashboard, and every series selector of every alert expression, returns
  series from the running product; the one exception is named: kube-state-metrics' restart
  counters (StiggSidecarCrashLooping), since kube-state-metrics cannot be built here (the Go
  module proxy refuses ``k8s.io/kube-state-metrics/v2``, 403);
* an emulated upstream outage fires the sidecar's upstream-errors alert for the application's
  Pod, and it resolves once the upstream is back.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from stigg_devkit import kube, monitoring, prometheus, waiting
from stigg_emulator import in_cluster
from tests.integration.node import conftest

SPEEDUP = 5
NAMESPACE = "stigg-e2e-monitoring"
OUTAGE_ALERT = "StiggSidecarUpstreamErrors"
# Grafana's variables as it would substitute them for "All" at a 2 s scrape interval.
NOT_RUNNING_HERE = frozenset(monitoring.EXTERNAL_METRICS) - {"up"}  # kube-state-metrics' (above)
LIVE_VALUES = {**monitoring.TEMPLATE_VALUES, "__rate_interval": "30s", "__interval": "10s", "__range": "5m"}


def rules() -> dict[str, Any]:
    return {"groups": monitoring.alert_groups()}


@pytest.fixture(scope="module")
def monitored(deployed: kube.Cluster) -> Iterator[prometheus.InClusterPrometheus]:
    server = prometheus.deploy(deployed, namespace=NAMESPACE, rules=prometheus.compressed(rules(), SPEEDUP))
    try:
        yield server
    finally:
        prometheus.remove(deployed, NAMESPACE)


@pytest.fixture(scope="module")
def shop(
    deployed: kube.Cluster, emulator_in_cluster: str, image_refs: dict[str, str]
) -> Iterator[dict[str, Any]]:
    with conftest.opted_in_namespace(deployed, emulator_in_cluster) as namespace:
        yield conftest.run_pod(deployed, namespace, conftest.app_pod("shop", image_refs["sidecar"]))


def traffic(target: kube.Cluster, pod: dict[str, Any]) -> None:
    """Checks of every kind of answer: granted, denied, fallback (an unknown customer), usage."""
    for path in (
        "/entitlement?customer=customer-pro&feature=feature-sso",
        "/entitlement?customer=customer-free&feature=feature-sso",
        f"/entitlement?customer=nobody-{uuid.uuid4().hex[:6]}&feature=feature-sso",
    ):
        conftest.app_get(target, pod, path)
    conftest.app_get(target, pod, "/usage?customer=customer-pro&feature=feature-seats&value=1", method="POST")


def scraped(server: prometheus.InClusterPrometheus, namespace: str) -> bool:
    up = {(t["labels"]["job"], t["labels"].get("namespace")): t["health"] for t in server.targets()}
    return (
        up.get(("stigg-sidecars", namespace)) == "up" and up.get(("stigg-operator", "stigg-system")) == "up"
    )


def test_every_dashboard_query_and_alert_selector_returns_series(
    deployed: kube.Cluster, monitored: prometheus.InClusterPrometheus, shop: dict[str, Any]
) -> None:
    traffic(deployed, shop)
    waiting.wait_for(
        lambda: scraped(monitored, shop["metadata"]["namespace"]),
        what="Prometheus to scrape the sidecar and the operator",
        timeout=60,
    )
    traffic(deployed, shop)
    time.sleep(3 * 2)  # three scrapes at 2 s: every rate() has two samples

    queries = [
        (where, monitoring.concrete(expr, LIVE_VALUES)) for where, expr in monitoring.dashboard_queries()
    ]
    assert queries, "the dashboard has queries"
    empty = [f"{where}: {expr}" for where, expr in queries if not monitored.query(expr)]
    assert not empty, "dashboard queries without series:\n" + "\n".join(empty)

    selectors = {
        selector: rule["alert"]
        for group in rules()["groups"]
        for rule in group["rules"]
        for selector in monitored.selectors(str(rule["expr"]))
        if not any(f'__name__="{name}"' in selector for name in NOT_RUNNING_HERE)
    }
    assert selectors
    missing = [
        f"{alert}: {selector}" for selector, alert in selectors.items() if not monitored.query(selector)
    ]
    assert not missing, "alert selectors without series:\n" + "\n".join(missing)


def firing(server: prometheus.InClusterPrometheus, namespace: str) -> list[dict[str, Any]]:
    return [
        alert
        for alert in server.alerts()
        if alert["labels"].get("alertname") == OUTAGE_ALERT
        and alert["labels"].get("namespace") == namespace
        and alert["state"] == "firing"
    ]


def test_the_upstream_errors_alert_fires_in_an_outage_and_resolves_after(
    deployed: kube.Cluster,
    monitored: prometheus.InClusterPrometheus,
    shop: dict[str, Any],
    emulator: in_cluster.InClusterEmulator,
) -> None:
    namespace = shop["metadata"]["namespace"]
    waiting.wait_for(lambda: scraped(monitored, namespace), what="the sidecar scraped", timeout=60)
    assert not firing(monitored, namespace), "no alert before the outage"
    stop = threading.Event()

    def misses() -> None:  # new customers while the upstream is down: each is an upstream call
        while not stop.wait(1):
            with contextlib.suppress(OSError):
                conftest.app_get(
                    deployed, shop, f"/entitlement?customer=cold-{uuid.uuid4().hex[:6]}&feature=feature-sso"
                )

    background = threading.Thread(target=misses, daemon=True)
    conftest.emulator_admin(emulator, "PUT", "faults", {"outage": True})
    background.start()
    try:
        fired = waiting.wait_for(
            lambda: firing(monitored, namespace),
            what=f"{OUTAGE_ALERT} to fire during the outage",
            timeout=120,
        )
        (alert,) = fired
        assert alert["labels"]["severity"] in {"warning", "critical"}
        assert alert["annotations"]["runbook_url"].endswith("#" + OUTAGE_ALERT.lower())
    finally:
        conftest.emulator_admin(emulator, "PUT", "faults", {"outage": False})
        stop.set()
        background.join(timeout=15)
    waiting.wait_for(
        lambda: not firing(monitored, namespace),
        what=f"{OUTAGE_ALERT} to resolve after the outage",
        timeout=120,
    )
    # The sidecar answers from the upstream again.
    answer = conftest.app_get(deployed, shop, "/entitlement?customer=customer-pro&feature=feature-sso")
    assert (answer["hasAccess"], answer["isFallback"]) == (True, False)

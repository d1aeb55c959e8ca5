"""Monitoring, live: a real Prometheus (``stigg_devkit.prometheus``) runs as a Pod of the
cluster, finds the operator's Pods and an injected application's sidecar with the jobs the
chart's PodMonitors describe, and evaluates the chart's alerts
(``charts/stigg-entitlements/monitoring/alerts.yaml``) five times faster (every ``for:`` and
range window divided by 5: the expressions are otherwise the chart's own).

* every query of the dashboard, and every series selector of every alert expression, returns
  series from the running product, once what some series count has happened: the ``shop``
  namespace's application checks every kind of answer, and a Deployment there rolls onto a
  changed sidecar log level (``rolloutOnChange``); in a ``troubled`` namespace, a Pod predates
  the namespace's opt-in (a missing sidecar) and a ConfigMap stands where cluster-default's
  defaults would be copied (a reconcile error, ``DefaultsCopyConflict``), and a Pod with a bad
  annotation is denied. Two exceptions are named: admissions with ``result="error"``, which
  only a handler that raised unexpectedly counts (a healthy operator never does; the unit test
  ``test_metrics_admission_results.py`` shows it counted), and kube-state-metrics' restart
  counters (StiggSidecarCrashLooping), since kube-state-metrics cannot be built here (the Go
  module proxy refuses ``k8s.io/kube-state-metrics/v2``, 403);
* an emulated upstream outage fires the sidecar's upstream-errors alert for the application's
  Pod, and it resolves once the upstream is back.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from stigg_devkit import kube, monitoring, prometheus, waiting
from stigg_emulator import in_cluster
from stigg_operator import keys
from tests.integration.node import conftest

SPEEDUP = 5
NAMESPACE = "stigg-e2e-monitoring"
OUTAGE_ALERT = "StiggSidecarUpstreamErrors"
# Grafana's variables as it would substitute them for "All" at a 2 s scrape interval.
NOT_RUNNING_HERE = frozenset(monitoring.EXTERNAL_METRICS) - {"up"}  # kube-state-metrics' (above)
NEVER_WHEN_HEALTHY = ('result="error"',)  # an admission handler that raised (above)
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


def sleeper(name: str, image: str) -> dict[str, Any]:
    """A Pod that only sleeps, on the sidecar image's Python."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": image,
                    "imagePullPolicy": "Never",
                    "command": ["python", "-c", "import time; time.sleep(3600)"],
                    "securityContext": kube.restricted_security_context(),
                }
            ],
            "terminationGracePeriodSeconds": 1,
        },
    }


@pytest.fixture(scope="module")
def troubled(deployed: kube.Cluster, image_refs: dict[str, str]) -> Iterator[str]:
    """A namespace cluster-default serves, with a Pod that was there before its opt-in (so it
    has no sidecar) and a ConfigMap in the way of the defaults copy."""
    name = f"troubled-{uuid.uuid4().hex[:6]}"
    deployed.apply(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": conftest.TEST_LABELS}}
    )
    try:
        deployed.kubectl(
            "-n",
            name,
            "apply",
            "-f",
            "-",
            input_text=json.dumps(sleeper("before-opt-in", image_refs["sidecar"])),
        )
        deployed.kubectl("label", "namespace", name, f"{keys.NAMESPACE_INJECTION_LABEL}=enabled")
        copy = keys.configmap_name(keys.CLUSTER_DEFAULT_NAME)
        deployed.apply(
            conftest.api_key_secret(name),
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": copy, "namespace": name},
                "data": {"theirs": "1"},
            },
        )
        denied = sleeper("denied", image_refs["sidecar"])
        denied["metadata"]["annotations"] = {keys.CPU_REQUEST_ANNOTATION: "lots"}
        refusal = deployed.kubectl("-n", name, "apply", "-f", "-", input_text=json.dumps(denied), check=False)
        assert not refusal, "the webhook denies a bad annotation"
        served = sleeper("served", image_refs["sidecar"])
        waiting.wait_for(
            lambda: deployed.kubectl(
                "-n", name, "apply", "-f", "-", input_text=json.dumps(served), check=False
            ),
            what="cluster-default to serve the troubled namespace",
            timeout=60,
        )
        yield name
    finally:
        deployed.kubectl("delete", "namespace", name, "--wait=false", check=False)


def roll_a_deployment(target: kube.Cluster, namespace: str, image: str) -> None:
    """A Deployment of the demo app under ``shop`` with rolloutOnChange, then a new log level."""

    def patch(spec: dict[str, Any]) -> None:
        resource = f"{keys.PLURAL}.{keys.GROUP}/shop"
        target.kubectl("-n", namespace, "patch", resource, "--type=merge", "-p", json.dumps({"spec": spec}))

    patch({"rolloutOnChange": True})
    pod = conftest.app_pod("web", image)
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": pod["spec"]},
        },
    }
    target.apply(deployment)
    target.kubectl("-n", namespace, "rollout", "status", "deployment/web", "--timeout=120s")
    patch({"sidecar": {"logLevel": "debug"}})


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
    deployed: kube.Cluster,
    monitored: prometheus.InClusterPrometheus,
    shop: dict[str, Any],
    troubled: str,
    image_refs: dict[str, str],
) -> None:
    traffic(deployed, shop)
    waiting.wait_for(
        lambda: scraped(monitored, shop["metadata"]["namespace"]),
        what="Prometheus to scrape the sidecar and the operator",
        timeout=60,
    )
    roll_a_deployment(deployed, shop["metadata"]["namespace"], image_refs["sidecar"])
    traffic(deployed, shop)

    queries = [
        (where, monitoring.concrete(expr, LIVE_VALUES)) for where, expr in monitoring.dashboard_queries()
    ]
    assert queries, "the dashboard has queries"

    def empty() -> list[str]:
        return [f"{where}: {expr}" for where, expr in queries if not monitored.query(expr)]

    # The drift scan that finds the missing sidecar runs every minute; rate()s need two scrapes.
    deadline = time.monotonic() + 150
    while (left := empty()) and time.monotonic() < deadline:
        time.sleep(5)
    assert not left, "dashboard queries without series:\n" + "\n".join(left)

    selectors = {
        selector: rule["alert"]
        for group in rules()["groups"]
        for rule in group["rules"]
        for selector in monitored.selectors(str(rule["expr"]))
        if not any(f'__name__="{name}"' in selector for name in NOT_RUNNING_HERE)
        and not any(matcher in selector for matcher in NEVER_WHEN_HEALTHY)
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

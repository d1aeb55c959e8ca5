"""A paced burst of Pod creations, to count failed admissions while the operator is disrupted.

``run`` creates Pods in an opted-in namespace at a fixed ``rate`` (each create in a worker
thread, so a slow admission does not hold up the next: several are in flight when the webhook
stalls) until ``count`` were started or ``until`` says stop, and returns one ``Outcome`` per
create: when it started, how long the apiserver took, whether the Pod came back injected, and
the apiserver's words if it was refused. The Pods ask for a node label no node has, so they stay
Pending: only admission is exercised, nothing starts on the node, and hundreds cost only
etcd rows (deleted with the namespace). Used by the node suite's HA test and by
``bench/operator_ha.py``.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

from kubernetes import client

SIDECAR = "stigg-sidecar"
UNSCHEDULABLE = {"stigg.io/admission-burst": "no-such-node"}


@dataclasses.dataclass(frozen=True)
class Outcome:
    name: str
    started: float  # seconds since the burst began
    seconds: float  # the create request, admission included
    injected: bool
    error: str | None  # the apiserver's message if refused

    @property
    def failed(self) -> bool:
        return self.error is not None


def pod(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "admission-burst"}},
        "spec": {
            "nodeSelector": dict(UNSCHEDULABLE),
            "containers": [{"name": "app", "image": "example.invalid/app:1"}],
        },
    }


def _create(core: client.CoreV1Api, namespace: str, name: str, began: float) -> Outcome:
    started = time.monotonic()
    try:
        created = core.create_namespaced_pod(namespace, pod(name))
    except client.ApiException as error:
        try:
            message = str(json.loads(error.body or "{}").get("message") or error.reason)
        except ValueError:
            message = str(error.reason)
        return Outcome(name, started - began, time.monotonic() - started, False, f"{error.status}: {message}")
    except Exception as error:  # the connection to the apiserver itself: a failure too
        return Outcome(name, started - began, time.monotonic() - started, False, repr(error))
    names = [c.name for c in created.spec.init_containers or []]
    return Outcome(name, started - began, time.monotonic() - started, SIDECAR in names, None)


def run(
    core: client.CoreV1Api,
    namespace: str,
    *,
    rate: float,
    count: int,
    until: Callable[[], bool] = lambda: False,
    prefix: str = "burst",
    workers: int = 8,
) -> list[Outcome]:
    """Create up to ``count`` Pods at ``rate`` per second (stopping early once ``until()``)."""
    began = time.monotonic()
    outcomes: list[Outcome] = []
    lock = threading.Lock()

    def one(number: int) -> None:
        outcome = _create(core, namespace, f"{prefix}-{number:04d}", began)
        with lock:
            outcomes.append(outcome)

    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        for number in range(count):
            delay = began + number / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if until():
                break
            pool.submit(one, number)
    return sorted(outcomes, key=lambda o: o.started)


def summary(outcomes: list[Outcome]) -> dict[str, Any]:
    """Counts and latency percentiles (ms) of a burst's creates."""
    latencies = sorted(o.seconds * 1000 for o in outcomes if not o.failed)

    def pct(fraction: float) -> float:
        return (
            latencies[min(len(latencies) - 1, round(fraction * (len(latencies) - 1)))] if latencies else 0.0
        )

    return {
        "created": len(outcomes),
        "failed": sum(o.failed for o in outcomes),
        "not_injected": sum(not o.failed and not o.injected for o in outcomes),
        "p50_ms": statistics.median(latencies) if latencies else 0.0,
        "p90_ms": pct(0.9),
        "p99_ms": pct(0.99),
        "max_ms": latencies[-1] if latencies else 0.0,
        "errors": sorted({o.error for o in outcomes if o.error}),
    }

"""Two replicas on the real apiserver: one leads; stopped with SIGTERM, it releases the Lease and
the other leads at once (well before the 30 s the Lease would take to expire) and reconciles;
killed with SIGKILL, it cannot release, and the other takes over once the Lease expires."""

from __future__ import annotations

import contextlib
import pathlib
import signal
import time
from collections.abc import Iterator

from kubernetes import client

from stigg_devkit import waiting
from stigg_localcluster import cluster
from tests.integration.operator import conftest

LONG_LEASE = {"STIGG_OPERATOR_LEASE_DURATION_SECONDS": "30"}
SHORT_LEASE = {"STIGG_OPERATOR_LEASE_DURATION_SECONDS": "3"}


def _identity(log: str) -> str:
    """The identity a replica logged when it began to lead."""
    line = next(line for line in log.splitlines() if "leading now, as " in line)
    return line.split("leading now, as ", 1)[1].split(" ", 1)[0]


@contextlib.contextmanager
def _replicas(
    local: cluster.LocalCluster, api: client.ApiClient, tmp: pathlib.Path, env: dict[str, str]
) -> Iterator[tuple[conftest.Operator, conftest.Operator]]:
    """Two replicas, the first leading; both stopped, and the webhook removed, afterwards."""
    conftest.ensure_namespace(client.CoreV1Api(api), conftest.OPERATOR_NAMESPACE)
    first = conftest.Operator(local, tmp / "first.log", env)
    second = conftest.Operator(local, tmp / "second.log", env)
    try:
        first.start(api)
        waiting.wait_for(lambda: "leading now" in first.log(), what="the first replica to lead")
        second.start(api)
        yield first, second
    finally:
        first.stop()
        second.stop()
        second.remove_webhook(api)


def test_sigterm_hands_the_lease_over_at_once(
    local_cluster: cluster.LocalCluster,
    api_client: client.ApiClient,
    crd: None,
    namespace: str,
    tmp_path: pathlib.Path,
) -> None:
    with _replicas(local_cluster, api_client, tmp_path, LONG_LEASE) as (first, second):
        assert conftest.lease_holder(api_client) == _identity(first.log())
        assert "leading now" not in second.log(), "one leader at a time"

        stopped = time.monotonic()
        first.stop()
        assert "released the leadership" in first.log()
        waiting.wait_for(lambda: "leading now" in second.log(), what="the second replica to lead", timeout=25)
        took = time.monotonic() - stopped
        assert took < 15, f"took over after {took:.1f} s: by expiry (30 s), not by the release"
        assert conftest.lease_holder(api_client) == _identity(second.log())

        conftest.setup_namespace(api_client, namespace, label=False)  # waits for the new leader's status
        conftest.wait_ready(api_client, namespace, "shop", what="the new leader to reconcile")


def test_sigkill_is_taken_over_when_the_lease_expires(
    local_cluster: cluster.LocalCluster,
    api_client: client.ApiClient,
    crd: None,
    namespace: str,
    tmp_path: pathlib.Path,
) -> None:
    with _replicas(local_cluster, api_client, tmp_path, SHORT_LEASE) as (first, second):
        killed_identity = _identity(first.log())
        assert first.process is not None
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(10)
        assert conftest.lease_holder(api_client) == killed_identity, "a killed leader releases nothing"
        waiting.wait_for(lambda: "leading now" in second.log(), what="the second replica to lead", timeout=20)
        assert conftest.lease_holder(api_client) == _identity(second.log())

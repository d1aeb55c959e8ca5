"""No admission fails while the operator rolls: on the real node, with the two replicas of
``manifests/``, Pods are created at a steady rate (``stigg_devkit.admission_burst``: Pending
Pods, admission only) from before ``kubectl rollout restart`` until after the rollout is done;
every create is admitted and injected (failurePolicy Fail: a create the webhook could not answer
would be refused), and both replicas were replaced. The figures for 500 Pods, and for a SIGKILL,
are ``bench/operator_ha.py``'s."""

from __future__ import annotations

import threading
import time

from kubernetes import client
from kubernetes import config as kubeconfig

from stigg_devkit import admission_burst, kube
from tests.integration.node import conftest

SELECTOR = "app.kubernetes.io/name=stigg-operator"


def _operator_pods(target: kube.Cluster) -> set[str]:
    pods = target.get("-n", conftest.OPERATOR_NAMESPACE, "pods", "-l", SELECTOR)
    return {p["metadata"]["name"] for p in pods["items"] if not p["metadata"].get("deletionTimestamp")}


def test_no_admission_fails_through_a_rolling_restart(deployed: kube.Cluster, app_namespace: str) -> None:
    core = client.CoreV1Api(kubeconfig.new_client_from_config(config_file=str(deployed.kubeconfig)))
    before = _operator_pods(deployed)
    assert len(before) == 2, f"two replicas serve the webhook: {before}"
    finished: list[float] = []
    rollout: list[str] = []

    def restart() -> None:
        time.sleep(2)  # the burst is under way first
        deployed.kubectl("-n", conftest.OPERATOR_NAMESPACE, "rollout", "restart", "deployment/stigg-operator")
        rollout.append(
            deployed.kubectl(
                "-n", conftest.OPERATOR_NAMESPACE, "rollout", "status", "deployment/stigg-operator",
                "--timeout=300s", check=False, timeout=320,
            )
        )  # fmt: skip
        finished.append(time.monotonic())

    restarter = threading.Thread(target=restart)
    restarter.start()
    outcomes = admission_burst.run(
        core,
        app_namespace,
        rate=4,
        count=1200,  # bounds it: 5 minutes at 4/s
        until=lambda: bool(finished) and time.monotonic() > finished[0] + 5,
    )
    restarter.join()

    assert rollout, "the rollout was waited for"
    assert "successfully rolled out" in rollout[0], rollout
    after = _operator_pods(deployed)
    assert len(after) == 2, after
    assert not after & before, f"both replicas replaced: {before} -> {after}"
    figures = admission_burst.summary(outcomes)
    assert figures["created"] >= 40, figures
    assert figures["failed"] == 0, figures
    assert figures["not_injected"] == 0, figures

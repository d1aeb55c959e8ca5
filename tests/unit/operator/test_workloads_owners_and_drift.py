"""Which workload a Pod belongs to, which workloads are behind a wiring hash, and which Pods
miss their sidecar (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from stigg_operator import keys, workloads


def _pod(
    owner: tuple[str, str] | None = None,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "name": "p",
        "namespace": "shop",
        "labels": labels or {},
        "annotations": annotations or {},
    }
    if owner is not None:
        metadata["ownerReferences"] = [{"kind": owner[0], "name": owner[1], "controller": True}]
    return {"metadata": metadata, "spec": {"containers": [{"name": "app"}]}, **extra}


@pytest.mark.parametrize(
    ("owner", "labels", "expected"),
    [
        (("ReplicaSet", "web-5d9c7b"), {"pod-template-hash": "5d9c7b"}, ("Deployment", "web")),
        (("ReplicaSet", "my-web-app-7f8"), {"pod-template-hash": "7f8"}, ("Deployment", "my-web-app")),
        (("ReplicaSet", "bare"), {}, ("ReplicaSet", "bare")),
        (("StatefulSet", "db"), {}, ("StatefulSet", "db")),
        (("DaemonSet", "agent"), {}, ("DaemonSet", "agent")),
        (("Job", "nightly"), {}, ("Job", "nightly")),
    ],
)
def test_owner_of_follows_the_controller_reference(
    owner: tuple[str, str], labels: dict[str, str], expected: tuple[str, str]
) -> None:
    assert workloads.owner_of(_pod(owner, labels)) == workloads.WorkloadRef(expected[0], "shop", expected[1])


def test_a_pod_without_a_controller_has_no_owner() -> None:
    assert workloads.owner_of(_pod()) is None


def _injected(owner: workloads.WorkloadRef | None, wiring: str) -> workloads.InjectedPod:
    return workloads.InjectedPod("shop", "p", "shop/x", wiring, owner)


def test_workloads_behind_the_wiring_are_outdated_and_only_rollable_ones_are_listed() -> None:
    web = workloads.WorkloadRef("Deployment", "shop", "web")
    db = workloads.WorkloadRef("StatefulSet", "shop", "db")
    job = workloads.WorkloadRef("Job", "shop", "nightly")
    pods = [
        _injected(web, "new"),
        _injected(web, "old"),  # one Pod behind is enough
        _injected(db, "new"),
        _injected(job, "old"),
        _injected(None, "old"),  # a bare Pod: not a workload
    ]
    status = workloads.workloads_status(pods, "new")
    assert (status.total, status.up_to_date) == (3, 1)
    assert status.outdated == (web,)


def test_injected_pod_reads_the_recorded_resource_and_wiring() -> None:
    pod = _pod(("StatefulSet", "db"), annotations={keys.INJECTED_ANNOTATION: "shop/gold@1a2b3c"})
    found = workloads.injected_pod(pod)
    assert found == workloads.InjectedPod(
        "shop", "p", "shop/gold", "1a2b3c", workloads.WorkloadRef("StatefulSet", "shop", "db")
    )


@pytest.mark.parametrize(
    ("pod", "namespace_opted_in", "missing"),
    [
        (_pod(), True, True),
        (_pod(), False, False),
        (_pod(labels={keys.POD_INJECT_LABEL: "true"}), False, True),
        (_pod(labels={keys.POD_INJECT_LABEL: "false"}), True, False),
        (_pod(annotations={keys.INJECTED_ANNOTATION: "shop/x@1"}), True, False),
        (_pod(status={"phase": "Succeeded"}), True, False),
        ({**_pod(), "spec": {"hostNetwork": True, "containers": [{"name": "app"}]}}, True, False),
        (
            {**_pod(), "metadata": {**_pod()["metadata"], "deletionTimestamp": "2026-01-01T00:00:00Z"}},
            True,
            False,
        ),
    ],
    ids=[
        "opted-namespace",
        "not-opted",
        "pod-label",
        "opted-out",
        "injected",
        "finished",
        "host-network",
        "terminating",
    ],
)
def test_missing_sidecar(pod: dict[str, Any], namespace_opted_in: bool, missing: bool) -> None:
    assert workloads.missing_sidecar(pod, namespace_opted_in) is missing

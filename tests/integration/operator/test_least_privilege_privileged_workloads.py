"""The operator cannot create a privileged workload, anywhere. Impersonating its ServiceAccount
(``manifests/rbac.yaml`` and ``manifests/admission-policy.yaml`` really applied), Standalone
mode's Deployment as the operator renders it (``standalone.deployment``, owned by a
StiggEntitlements) is admitted, created by server-side apply and deleted; but the same
Deployment bent in any one way (privileged, a hostPath volume, the host's network or PIDs, a
service account token, added capabilities, root, a command of its own, another image, a second
container, no StiggEntitlements owner) is refused, each with the policy's words; in kube-system
even the legitimate shape is refused; and DaemonSets, StatefulSets and Pods cannot be created
at all (RBAC). The refusals are server-side dry runs, the admitted apply a real one."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client

from tests.integration.operator import conftest, least_privilege

Bend = Callable[[dict[str, Any]], None]


def _pod(body: dict[str, Any]) -> dict[str, Any]:
    pod: dict[str, Any] = body["spec"]["template"]["spec"]
    return pod


def _sidecar(body: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any] = _pod(body)["containers"][0]
    return container


def _host_path(body: dict[str, Any]) -> None:
    _pod(body)["volumes"].append({"name": "host", "hostPath": {"path": "/"}})
    _sidecar(body)["volumeMounts"].append({"name": "host", "mountPath": "/host"})


BENDS: dict[str, tuple[Bend, str]] = {
    "privileged": (
        lambda b: _sidecar(b)["securityContext"].update(privileged=True, allowPrivilegeEscalation=True),
        "unprivileged",
    ),
    "hostPath": (_host_path, "only configMap and emptyDir volumes (no hostPath)"),
    "hostNetwork": (lambda b: _pod(b).update(hostNetwork=True), "no host namespace"),
    "hostPID": (lambda b: _pod(b).update(hostPID=True), "no host namespace"),
    "token": (lambda b: _pod(b).update(automountServiceAccountToken=True), "no service account token"),
    "capabilities": (
        lambda b: _sidecar(b)["securityContext"]["capabilities"].update(add=["SYS_ADMIN"]),
        "none added",
    ),
    "root": (
        lambda b: (
            _sidecar(b)["securityContext"].update(runAsNonRoot=False, runAsUser=0),
            _pod(b)["securityContext"].update(runAsNonRoot=False),
        ),
        "as non-root",
    ),
    "command": (lambda b: _sidecar(b).update(command=["sh", "-c", "env"]), "no command or args"),
    "image": (
        lambda b: _sidecar(b).update(image="registry.example/exfiltrate:1"),
        "runs only the sidecar image (ghcr.io/stigg-entitlements/sidecar) in the Deployments it owns, "
        "not registry.example/exfiltrate:1",
    ),
    "second container": (
        lambda b: _pod(b)["containers"].append({**_sidecar(b), "name": "second"}),  # the sidecar image
        "run one container, stigg-sidecar",
    ),
    "init container": (
        lambda b: _pod(b).update(
            initContainers=[{**_sidecar(b), "name": "setup", "restartPolicy": "Always"}]
        ),
        "run one container, stigg-sidecar",
    ),
    "no owner": (
        lambda b: b["metadata"].pop("ownerReferences"),
        "may create or delete only a Deployment a StiggEntitlements owns",
    ),
}


@pytest.fixture
def owner_uid(api_client: client.ApiClient, namespace: str) -> Iterator[str]:
    with least_privilege.owner(api_client, namespace) as uid:
        yield uid


def test_standalone_modes_deployment_is_admitted_then_deleted(
    api_client: client.ApiClient, operator_identity: client.ApiClient, namespace: str, owner_uid: str
) -> None:
    body = least_privilege.standalone_deployment(namespace, owner_uid)
    created = least_privilege.apply(operator_identity, body)
    assert created["spec"]["template"]["spec"]["containers"][0]["image"] == _sidecar(body)["image"]
    body["spec"]["replicas"] = 3  # an update of its own Deployment: admitted too
    assert least_privilege.apply(operator_identity, body)["spec"]["replicas"] == 3
    name = body["metadata"]["name"]
    client.AppsV1Api(operator_identity).delete_namespaced_deployment(name, namespace)
    status, _ = conftest.refusal(
        lambda: client.AppsV1Api(api_client).read_namespaced_deployment(name, namespace)
    )
    assert status == 404


@pytest.mark.parametrize("bend", list(BENDS))
def test_a_bent_deployment_is_refused(
    operator_identity: client.ApiClient, namespace: str, owner_uid: str, bend: str
) -> None:
    body = least_privilege.standalone_deployment(namespace, owner_uid)
    least_privilege.apply(operator_identity, copy.deepcopy(body), dry_run=True)  # as rendered: admitted
    change, words = BENDS[bend]
    change(body)
    status, message = conftest.refusal(lambda: least_privilege.apply(operator_identity, body, dry_run=True))
    assert status == 403, message
    assert words in message, message


@pytest.mark.parametrize("bend", ["as rendered", "privileged", "hostPath"])
def test_no_deployment_at_all_in_kube_system(operator_identity: client.ApiClient, bend: str) -> None:
    body = least_privilege.standalone_deployment("kube-system", "00000000-0000-0000-0000-000000000000")
    words = "the stigg operator never writes in the system namespace kube-system"
    if bend != "as rendered":
        BENDS[bend][0](body)
    status, message = conftest.refusal(lambda: least_privilege.apply(operator_identity, body, dry_run=True))
    assert status == 403, message
    # As rendered, only the system-namespace policy refuses; bent, the shape's policy may answer first.
    assert words in message or (bend != "as rendered" and BENDS[bend][1] in message), message


@pytest.mark.parametrize("kind", ["DaemonSet", "StatefulSet", "Pod"])
@pytest.mark.parametrize("where", ["kube-system", "namespace"])
def test_no_daemonset_statefulset_or_pod_can_be_created(
    operator_identity: client.ApiClient, namespace: str, kind: str, where: str
) -> None:
    target = namespace if where == "namespace" else where
    apps, core = client.AppsV1Api(operator_identity), client.CoreV1Api(operator_identity)
    privileged = least_privilege.an_app_deployment(kind if kind != "Pod" else "DaemonSet", target)
    privileged["spec"]["template"]["spec"]["containers"][0]["securityContext"] = {"privileged": True}
    create = {
        "DaemonSet": lambda: apps.create_namespaced_daemon_set(target, privileged, dry_run="All"),
        "StatefulSet": lambda: apps.create_namespaced_stateful_set(target, privileged, dry_run="All"),
        "Pod": lambda: core.create_namespaced_pod(
            target,
            {"metadata": {"name": "web"}, "spec": privileged["spec"]["template"]["spec"]},
            dry_run="All",
        ),
    }[kind]
    status, message = conftest.refusal(create)
    assert status == 403, message
    assert "cannot create resource" in message, message

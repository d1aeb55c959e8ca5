"""The chart's whole life on a real cluster with a real node, with the real helm (v4): install
(the project's images, as demo/overlay names them, never pulled), upgrade with changed values,
rollback to revision 1, uninstall; after each, the operator's replicas are Ready and an opted-in
namespace's Pod gets the sidecar (the apiserver calling the operator's webhook through the
chart's Service), and the upgrade's changes are in force, then gone again after the rollback.
After the uninstall nothing of the chart is left but the CRD: the pre-delete hook removed what
the operator created at run time (its webhook configuration, certificate Secret, Lease, the
copy of cluster-default's defaults), and Pods are admitted without a sidecar.

One test, in steps: each needs the one before (the release's revisions)."""

from __future__ import annotations

import json
import pathlib
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
import yaml

from stigg_devkit import images, kube, waiting
from stigg_emulator import in_cluster
from stigg_operator import keys
from tests.integration.charts import helm
from tests.integration.node import conftest as node

RELEASE = helm.RELEASE
NAMESPACE = helm.NAMESPACE
DEPLOYMENT = "stigg-operator"
CLEANUP_JOB = "stigg-operator-cleanup"
SELECTOR = "app.kubernetes.io/name=stigg-operator"
IMAGES = {component.name: component.image for component in images.COMPONENTS}
DEFAULTS_CONFIGMAP = keys.configmap_name("cluster-default")
# The operator's own default for the sidecar (model.py), then what the upgrade sets.
DEFAULT_SIDECAR_RESOURCES = {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}}
UPGRADED_SIDECAR_RESOURCES = {"requests": {"cpu": "40m", "memory": "80Mi"}, "limits": {"memory": "200Mi"}}
T = TypeVar("T")


def gently(probe: Callable[[], T], pause: float = 1.0) -> Callable[[], T]:
    """``probe``, pausing ``pause`` s after each falsy answer: kubectl calls cost CPU, and this
    machine's two cores also run the cluster."""

    def paced() -> T:
        answer = probe()
        if not answer:
            time.sleep(pause)
        return answer

    return paced


def split_image(ref: str) -> dict[str, str]:
    repository, _, tag = ref.rpartition(":")
    return {"repository": repository, "tag": tag}


def local_values(emulator_url: str) -> dict[str, Any]:
    """demo/overlay's changes, as values: the local images, never pulled; and cluster-default
    pointed at the emulator (it serves the namespace below, which has no resource of its own)."""
    return {
        "image": {**split_image(IMAGES["operator"]), "pullPolicy": "Never"},
        "sidecar": {"image": split_image(IMAGES["sidecar"])},
        "clusterDefault": {"spec": {"upstream": node.upstream_spec(emulator_url)}},
    }


def run_helm(target: kube.Cluster, *args: str) -> str:
    return helm.run(*args, "--kubeconfig", str(target.kubeconfig), "--namespace", NAMESPACE).stdout


def served_namespace(target: kube.Cluster) -> str:
    """A namespace opted in to injection, with the API key Secret and the demo app's code, and
    no StiggEntitlements: cluster-default serves it (and the operator copies its defaults here)."""
    name = f"chart-app-{uuid.uuid4().hex[:6]}"
    target.apply(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": name,
                "labels": {keys.NAMESPACE_INJECTION_LABEL: "enabled", **node.TEST_LABELS},
            },
        },
        node.api_key_secret(name),
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "demo-app", "namespace": name},
            "data": {"app.py": (helm.ROOT / "demo" / "app.py").read_text()},
        },
    )
    return name


def operator_ready(target: kube.Cluster, replicas: int) -> None:
    """``replicas`` operator Pods, all of the current template, all Ready, none terminating."""

    def ready() -> bool:
        deployment = target.get("-n", NAMESPACE, f"deployment/{DEPLOYMENT}")
        status = deployment.get("status") or {}
        pods = [
            p
            for p in target.get("-n", NAMESPACE, "pods", "-l", SELECTOR)["items"]
            if not p["metadata"].get("deletionTimestamp")
        ]
        return (
            deployment["spec"]["replicas"] == replicas
            and status.get("updatedReplicas") == replicas
            and status.get("readyReplicas") == replicas
            and len(pods) == replicas
            and all(node.condition(p["status"], "Ready").get("status") == "True" for p in pods)
        )

    try:
        waiting.wait_for(gently(ready), what=f"{replicas} Ready operator replicas", timeout=180)
    except AssertionError:
        pods = target.get("-n", NAMESPACE, "pods", "-l", SELECTOR)["items"]
        trouble = [target.pod_trouble(NAMESPACE, p["metadata"]["name"]) for p in pods]
        pytest.fail(f"the operator does not have {replicas} Ready replicas: {'; '.join(trouble) or 'no Pod'}")
    target.get("mutatingwebhookconfiguration", node.WEBHOOK_CONFIGURATION)


def admitted(target: kube.Cluster, namespace: str, pod: dict[str, Any]) -> dict[str, Any]:
    """The Pod as the apiserver would create it, mutating webhooks included (a server dry run)."""
    out = target.kubectl(
        "-n", namespace, "create", "--dry-run=server", "-o", "json", "-f", "-", input_text=json.dumps(pod)
    )
    created: dict[str, Any] = json.loads(out)
    return created


def sidecar_of(pod: dict[str, Any]) -> dict[str, Any] | None:
    return next(
        (c for c in pod["spec"].get("initContainers") or () if c["name"] == keys.SIDECAR_CONTAINER), None
    )


def injects(target: kube.Cluster, namespace: str, name: str, resources: dict[str, Any]) -> dict[str, Any]:
    """Once a dry run shows the sidecar injected with ``resources`` (every replica's index has the
    current cluster-default), a Pod ``name`` that runs Ready with it: the live Pod."""
    pod = node.app_pod(name, IMAGES["sidecar"])

    def with_resources() -> bool:
        sidecar = sidecar_of(admitted(target, namespace, pod))
        return sidecar is not None and sidecar.get("resources") == resources

    waiting.wait_for(gently(with_resources), what=f"the sidecar injected with {resources}", timeout=60)
    live = node.run_pod(target, namespace, pod)
    sidecar = sidecar_of(live)
    assert sidecar is not None, "the Pod was created without its sidecar"
    assert sidecar["image"] == IMAGES["sidecar"]
    assert sidecar["restartPolicy"] == "Always"  # a native sidecar
    assert sidecar["resources"] == resources
    return live


def leftovers(target: kube.Cluster, app_namespace: str) -> list[str]:
    """What is left of the release, the operator's run-time objects, and the hook: ``kind/name``."""
    users = {
        ("serviceaccount", "default"),
        ("configmap", "kube-root-ca.crt"),
        ("secret", node.API_KEY_SECRET),
    }
    found = [
        f"{item['kind'].lower()}/{item['metadata']['name']}"
        for item in target.get(
            "-n", NAMESPACE,
            "deployments,replicasets,pods,services,serviceaccounts,roles,rolebindings,configmaps,"
            "secrets,leases,poddisruptionbudgets,jobs,stiggentitlements",
        )["items"]
        if (item["kind"].lower(), item["metadata"]["name"]) not in users
    ]  # fmt: skip
    for item in target.get(
        "clusterroles,clusterrolebindings,mutatingwebhookconfigurations,"
        "validatingadmissionpolicies,validatingadmissionpolicybindings"
    )["items"]:
        ours = item["metadata"]["name"].startswith("stigg-operator")
        if ours or item["kind"] == "MutatingWebhookConfiguration":
            found.append(f"{item['kind'].lower()}/{item['metadata']['name']}")
    copy = target.kubectl(
        "-n", app_namespace, "get", "configmap", DEFAULTS_CONFIGMAP, "-o", "name", check=False
    )
    found.extend(f"{app_namespace}/{line}" for line in copy.split())
    return found


def hook_trouble(target: kube.Cluster) -> str:
    """How the cleanup hook's Pods ended: each one's state and its last lines."""
    pods = target.get("-n", NAMESPACE, "pods", "-l", f"job-name={CLEANUP_JOB}")["items"]
    said = []
    for pod in pods:
        states = [s.get("state") for s in pod["status"].get("containerStatuses") or ()]
        said.append(f"{pod['metadata']['name']}: {json.dumps(states)}")
    return "\n".join(said) or "none"


def test_install_upgrade_rollback_uninstall(helm_cluster: kube.Cluster, tmp_path: pathlib.Path) -> None:
    target = helm_cluster
    # As the chart's README says: the namespace (Pod Security "restricted"), the API key Secret.
    target.kubectl("apply", "-f", str(helm.ROOT / "manifests" / "namespace.yaml"))
    target.apply(node.api_key_secret(NAMESPACE))
    emulator = in_cluster.deploy(
        target, namespace=node.EMULATOR_NAMESPACE, image=IMAGES["sidecar"], api_key=node.API_KEY
    )
    app_namespace = served_namespace(target)
    values = tmp_path / "local-values.yaml"
    values.write_text(yaml.safe_dump(local_values(emulator.base_url)))

    # 1. install (the CRD from the chart's crds/, first)
    run_helm(
        target, "install", RELEASE, str(helm.CHART), "--values", str(values), "--wait", "--timeout", "5m"
    )
    operator_ready(target, 2)
    target.kubectl("wait", "--for=condition=Established", f"crd/{keys.PLURAL}.{keys.GROUP}", "--timeout=10s")
    first = injects(target, app_namespace, "shop-1", DEFAULT_SIDECAR_RESOURCES)
    assert first["metadata"]["labels"][keys.INJECTED_LABEL] == "true"
    waiting.wait_for(
        gently(
            lambda: target.kubectl("-n", app_namespace, "get", "configmap", DEFAULTS_CONFIGMAP, check=False)
        ),
        what="the copy of cluster-default's defaults in the namespace it serves",
        timeout=60,
    )

    # 2. upgrade: a replica more, the sidecar's resources (cluster-default's spec), a log level
    # (a rolling update of the operator)
    run_helm(
        target, "upgrade", RELEASE, str(helm.CHART), "--reuse-values", "--wait", "--timeout", "5m",
        "--set", "replicaCount=3", "--set", "logLevel=DEBUG",
        "--set-json", f"sidecar.resources={json.dumps(UPGRADED_SIDECAR_RESOURCES)}",
    )  # fmt: skip
    operator_ready(target, 3)
    deployment = target.get("-n", NAMESPACE, f"deployment/{DEPLOYMENT}")
    env = {e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["LOG_LEVEL"] == "DEBUG"
    default = target.get("-n", NAMESPACE, f"{keys.PLURAL}.{keys.GROUP}/cluster-default")
    assert default["spec"]["sidecar"]["resources"] == UPGRADED_SIDECAR_RESOURCES
    injects(target, app_namespace, "shop-2", UPGRADED_SIDECAR_RESOURCES)

    # 3. rollback to revision 1: two replicas, INFO, the operator's default sidecar resources
    run_helm(target, "rollback", RELEASE, "1", "--wait", "--timeout", "5m")
    operator_ready(target, 2)
    deployment = target.get("-n", NAMESPACE, f"deployment/{DEPLOYMENT}")
    env = {e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["LOG_LEVEL"] == "INFO"
    default = target.get("-n", NAMESPACE, f"{keys.PLURAL}.{keys.GROUP}/cluster-default")
    assert "resources" not in default["spec"]["sidecar"], "the rollback removes the upgrade's field"
    injects(target, app_namespace, "shop-3", DEFAULT_SIDECAR_RESOURCES)
    history = json.loads(run_helm(target, "history", RELEASE, "--output", "json"))
    assert [(h["revision"], h["status"]) for h in history] == [
        (1, "superseded"),
        (2, "superseded"),
        (3, "deployed"),
    ]
    assert "Rollback to 1" in history[-1]["description"]

    # 4. uninstall: the hook first (the operator scaled to zero, its run-time objects deleted),
    # then the release's objects; the CRD stays (Helm never deletes crds/).
    try:
        out = run_helm(target, "uninstall", RELEASE, "--wait", "--timeout", "5m")
    except AssertionError as failed:
        pytest.fail(f"{failed}\nthe cleanup hook's Pods: {hook_trouble(target)}")
    assert "uninstalled" in out
    try:
        waiting.wait_for(
            gently(lambda: not leftovers(target, app_namespace)), what="nothing left", timeout=90
        )
    except AssertionError:
        pytest.fail(f"left after helm uninstall: {leftovers(target, app_namespace)}")
    target.get(f"crd/{keys.PLURAL}.{keys.GROUP}")
    # No release either (its storage, Secrets sh.helm.release.v1.*, is among the leftovers checked).
    assert json.loads(run_helm(target, "list", "--output", "json")) == []
    # No webhook any more: an opted-in namespace's Pod is admitted, without a sidecar.
    after = admitted(target, app_namespace, node.app_pod("shop-4", IMAGES["sidecar"]))
    assert sidecar_of(after) is None
    # The Pods injected before keep running with their sidecar.
    assert target.get("-n", app_namespace, "pod/shop-1")["status"]["phase"] == "Running"

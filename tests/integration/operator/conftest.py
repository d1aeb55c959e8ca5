"""Fixtures for the operator's tests: the CRD on the local control plane, and the operator as a
real process (``python -m stigg_operator``) whose webhook the real apiserver calls over TLS."""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from kubernetes import client, config

from stigg_devkit import operator_launcher as launcher
from stigg_devkit import waiting
from stigg_emulator import catalog
from stigg_emulator import launcher as emulator_launcher
from stigg_localcluster import cluster
from stigg_operator import keys
from stigg_operator.kube import leases

ROOT = pathlib.Path(__file__).resolve().parents[3]
OPERATOR_NAMESPACE = "stigg-system"
WEBHOOK_CONFIG = "stigg-sidecar-injector"
TEST_IMAGE = "registry.example/stigg/sidecar:test"


@pytest.fixture(scope="session")
def crd(local_cluster: cluster.LocalCluster, api_client: client.ApiClient) -> None:
    local_cluster.kubectl("apply", "--server-side", "-f", str(ROOT / "crds"))
    local_cluster.kubectl(
        "wait", "--for=condition=Established", "crd/stiggentitlements.sidecar.stigg.io", "--timeout=30s"
    )


class Operator(launcher.RunningOperator):
    """The operator process as the tests run it: fast status refresh, the test image."""

    def __init__(
        self, local: cluster.LocalCluster, log_path: pathlib.Path, extra_env: dict[str, str]
    ) -> None:
        env = {
            "STIGG_OPERATOR_STATUS_INTERVAL_SECONDS": "1",
            "STIGG_OPERATOR_DRIFT_INTERVAL_SECONDS": "1",
            # A Lease left by a killed operator expires in 3 s, not 15, for the next test's.
            "STIGG_OPERATOR_LEASE_DURATION_SECONDS": "3",
            "STIGG_OPERATOR_SIDECAR_IMAGE": TEST_IMAGE,
            **extra_env,
        }
        super().__init__(
            local.kubeconfig_path,
            log_path,
            namespace=OPERATOR_NAMESPACE,
            webhook_config=WEBHOOK_CONFIG,
            env=env,
        )


def ensure_namespace(core: client.CoreV1Api, name: str) -> None:
    try:
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    except client.ApiException as error:
        if error.status != 409:
            raise


# With STIGG_TEST_OPERATOR_IDENTITY=serviceaccount, the ``operator`` fixture runs the operator
# with a token of its ServiceAccount, under exactly the manifests' RBAC and admission policies
# (``operator_identity``), instead of the cluster's admin: every module using the fixture then
# shows the operator's real work admitted by them (for example test_workload_opt_in,
# test_rollout_on_change, test_cluster_default).
IDENTITY_ENV = "STIGG_TEST_OPERATOR_IDENTITY"


@pytest.fixture(scope="module")
def operator(
    local_cluster: cluster.LocalCluster,
    api_client: client.ApiClient,
    crd: None,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Iterator[Operator]:
    """The operator running against the session's cluster; its webhook is removed afterwards."""
    core = client.CoreV1Api(api_client)
    ensure_namespace(core, OPERATOR_NAMESPACE)
    folder = tmp_path_factory.mktemp("operator")
    running = Operator(local_cluster, folder / "operator.log", {})
    if os.environ.get(IDENTITY_ENV) == "serviceaccount":
        request.getfixturevalue("operator_identity")
        running.env["KUBECONFIG"] = str(service_account_kubeconfig(local_cluster, folder / "kubeconfig"))
    running.start(api_client)
    try:
        yield running
    finally:
        running.stop()
        running.remove_webhook(api_client)


def remove_webhook(api: client.ApiClient) -> None:
    """The tests' webhook configuration, removed whether an operator runs or not."""
    launcher.remove_webhook(api, WEBHOOK_CONFIG)


def make_resource(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": f"{keys.GROUP}/{keys.VERSION}",
        "kind": keys.KIND,
        "metadata": {"name": name},
        "spec": spec,
    }


def make_secret(api: client.ApiClient, namespace: str, name: str = "stigg-api-key") -> None:
    client.CoreV1Api(api).create_namespaced_secret(
        namespace,
        client.V1Secret(
            metadata=client.V1ObjectMeta(name=name), string_data={"SERVER_API_KEY": "sk-test-secret"}
        ),
    )


def resource_status(api: client.ApiClient, namespace: str, name: str) -> dict[str, Any]:
    obj = client.CustomObjectsApi(api).get_namespaced_custom_object(
        keys.GROUP, keys.VERSION, namespace, keys.PLURAL, name
    )
    status: dict[str, Any] = obj.get("status") or {}
    return status


def condition(status: dict[str, Any], kind: str) -> dict[str, Any] | None:
    return next((c for c in status.get("conditions") or [] if c["type"] == kind), None)


def wait_ready(api: client.ApiClient, namespace: str, name: str, what: str = "Ready=True") -> dict[str, Any]:
    """Wait until the resource reports Ready=True; its Ready condition."""
    ready: dict[str, Any] = waiting.wait_for(
        lambda: (
            (c := condition(resource_status(api, namespace, name), "Ready")) and c["status"] == "True" and c
        ),
        what=what,
    )
    return ready


@pytest.fixture
def emulator() -> Iterator[emulator_launcher.RunningEmulator]:
    """The upstream emulator, accepting the key ``make_secret`` stores."""
    running = emulator_launcher.start(
        catalog_path=catalog.SAMPLE_PATH, latency_ms=0, api_key="sk-test-secret"
    )
    try:
        yield running
    finally:
        running.stop()


def mark_ready(core: client.CoreV1Api, namespace: str, name: str) -> None:
    """Report a Pod running and ready, as the kubelet would (there is no kubelet here)."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    core.patch_namespaced_pod_status(
        name,
        namespace,
        {
            "status": {
                "phase": "Running",
                "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now}],
            }
        },
    )


INJECTION_SPEC = {
    "apiKeySecretRef": {"name": "stigg-api-key"},
    "defaults": {"feature-sso": {"hasAccess": True}},
}


def setup_namespace(api: client.ApiClient, namespace: str, label: bool = True, wait: bool = True) -> None:
    """Opt ``namespace`` in (unless ``label`` is false), with the API key Secret and a
    StiggEntitlements ``shop`` (``INJECTION_SPEC``) that the operator has seen (unless ``wait``
    is false: a replica that does not lead writes no status)."""
    if label:
        client.CoreV1Api(api).patch_namespace(
            namespace, {"metadata": {"labels": {keys.NAMESPACE_INJECTION_LABEL: "enabled"}}}
        )
    make_secret(api, namespace)
    client.CustomObjectsApi(api).create_namespaced_custom_object(
        keys.GROUP, keys.VERSION, namespace, keys.PLURAL, make_resource("shop", INJECTION_SPEC)
    )
    if not wait:
        return
    # The webhook reads kopf's index: wait until the operator has seen the resource.
    waiting.wait_for(
        lambda: resource_status(api, namespace, "shop").get("observedGeneration") == 1,
        what="the operator to see the resource",
    )


def create_with_warnings(
    local: cluster.LocalCluster, namespace: str, pod: dict[str, Any]
) -> tuple[dict[str, Any], str]:
    """Create ``pod`` with kubectl; the admitted Pod and kubectl's stderr (admission warnings)."""
    created = subprocess.run(
        [str(local.binaries.kubectl), f"--kubeconfig={local.kubeconfig_path}", "-n", namespace,
         "create", "-o", "json", "-f", "-"],
        input=json.dumps(pod), capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return json.loads(created.stdout), created.stderr


LEASE = "stigg-operator"


class LeaseHolder:
    """Someone else holding the operator's Lease, as a leader replica would: it renews it every
    half second from a thread until ``stop`` (then the Lease expires on its own)."""

    def __init__(self, api: client.ApiClient, identity: str = "another-replica_test") -> None:
        self._api, self.identity = api, identity
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._renew, daemon=True)

    def __enter__(self) -> LeaseHolder:
        self._write()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join()

    def _renew(self) -> None:
        while not self._stopped.wait(0.5):
            self._write()

    def _write(self) -> None:
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
        spec = {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": 3,
            "renewTime": now,
            "acquireTime": now,
        }
        found = leases.read(self._api, OPERATOR_NAMESPACE, LEASE)
        leases.write(self._api, OPERATOR_NAMESPACE, LEASE, spec, found[1] if found else None)


def lease_holder(api: client.ApiClient) -> str | None:
    """Who holds the operator's Lease now (None: no one, or no Lease)."""
    found = leases.read(api, OPERATOR_NAMESPACE, LEASE)
    return found[0].get("holderIdentity") if found else None


AS_OPERATOR = f"system:serviceaccount:{OPERATOR_NAMESPACE}:stigg-operator"
POLICY_MANIFESTS = ("configmap-policy.yaml", "admission-policy.yaml")


def impersonating(local: cluster.LocalCluster, user: str = AS_OPERATOR) -> client.ApiClient:
    """An API client of the cluster's admin that acts as ``user`` (``Impersonate-User``): the
    apiserver authorizes and admits each request as that user, a ServiceAccount's groups included."""
    api = config.new_client_from_config(config_file=str(local.kubeconfig_path))
    api.set_default_header("Impersonate-User", user)
    return api


def refusal(call: Any) -> tuple[int, str]:
    """The status and message of a request that must be refused (``call()`` raising)."""
    try:
        call()
    except client.ApiException as error:
        return error.status, str(json.loads(error.body or "{}").get("message", error.reason))
    raise AssertionError("the request was admitted")


def _policies_enforced(as_operator: client.ApiClient) -> str | None:
    """Whether the apiserver enforces every policy yet (they load asynchronously): a request each
    must refuse, as a dry run, is refused with its words. None if so, else what it said."""
    core, apps = client.CoreV1Api(as_operator), client.AppsV1Api(as_operator)
    admission = client.AdmissionregistrationV1Api(as_operator)
    probe = client.V1ObjectMeta(
        name="probe-stigg-defaults", labels={"app.kubernetes.io/managed-by": "stigg-operator"}
    )
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "probe"},
        "spec": {
            "selector": {"matchLabels": {"app": "probe"}},
            "template": {
                "metadata": {"labels": {"app": "probe"}},
                "spec": {"containers": [{"name": "app", "image": "example/probe:1"}]},
            },
        },
    }
    kube_system_configmap = client.V1ConfigMap(metadata=probe)
    service = {"metadata": {"name": "probe"}, "spec": {"ports": [{"port": 80}]}}
    webhook = {"metadata": {"name": "probe"}}
    probes = [
        (lambda: core.create_namespaced_config_map("kube-system", kube_system_configmap, dry_run="All"),
         "never writes in the system namespace"),
        (lambda: apps.create_namespaced_deployment("default", deployment, dry_run="All"),
         "may create or delete only a Deployment"),
        (lambda: core.create_namespaced_service("default", service, dry_run="All"),
         "may write only the Services a StiggEntitlements"),
        (lambda: admission.create_mutating_webhook_configuration(webhook, dry_run="All"),
         "registers only the MutatingWebhookConfiguration"),
    ]  # fmt: skip
    for call, words in probes:
        try:
            call()
        except client.ApiException as error:
            if words not in (error.body or ""):
                return f"not yet {words!r}: {error.body}"
            continue
        return f"not yet {words!r}: admitted"
    return None


@pytest.fixture(scope="session")
def operator_identity(
    local_cluster: cluster.LocalCluster, api_client: client.ApiClient, crd: None
) -> Iterator[client.ApiClient]:
    """The operator's ServiceAccount with exactly the manifests' RBAC and admission policies
    applied (left in place: they judge that identity only); an API client impersonating it,
    once the apiserver enforces them all."""
    ensure_namespace(client.CoreV1Api(api_client), OPERATOR_NAMESPACE)
    manifests = ROOT / "manifests"
    files = ("serviceaccount.yaml", "rbac.yaml", *POLICY_MANIFESTS)
    local_cluster.kubectl("apply", *(arg for name in files for arg in ("-f", str(manifests / name))))
    as_operator = impersonating(local_cluster)
    try:
        said: list[str | None] = []
        try:
            waiting.wait_for(
                lambda: said.append(_policies_enforced(as_operator)) or said[-1] is None,
                what="the admission policies enforced",
            )
        except AssertionError as error:
            raise AssertionError(f"{error}: {said[-1]}") from None
        yield as_operator
    finally:
        as_operator.close()


def service_account_kubeconfig(local: cluster.LocalCluster, path: pathlib.Path) -> pathlib.Path:
    """A kubeconfig with a token of the operator's ServiceAccount and nothing else."""
    token = local.kubectl(
        "create", "token", "stigg-operator", "-n", OPERATOR_NAMESPACE, "--duration=1h"
    ).strip()
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "local",
                "cluster": {"server": local.server, "certificate-authority": str(local.ca_file)},
            }
        ],
        "users": [{"name": "stigg-operator", "user": {"token": token}}],
        "contexts": [{"name": "operator", "context": {"cluster": "local", "user": "stigg-operator"}}],
        "current-context": "operator",
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        yaml.safe_dump(kubeconfig, handle)
    return path


@contextlib.contextmanager
def cluster_default(api: client.ApiClient, spec: dict[str, Any]) -> Iterator[str]:
    """cluster-default with ``spec``, once the operator indexed it (its status is written after
    kopf indexed it: from then on the webhook sees this spec); its uid. Deleted afterwards, and
    waited until gone, so that the next test's starts from nothing."""
    custom = client.CustomObjectsApi(api)
    created = custom.create_namespaced_custom_object(
        keys.GROUP,
        keys.VERSION,
        OPERATOR_NAMESPACE,
        keys.PLURAL,
        make_resource(keys.CLUSTER_DEFAULT_NAME, spec),
    )
    waiting.wait_for(
        lambda: (
            resource_status(api, OPERATOR_NAMESPACE, keys.CLUSTER_DEFAULT_NAME).get("observedGeneration") == 1
        ),
        what="the operator to index cluster-default",
    )
    try:
        yield str(created["metadata"]["uid"])
    finally:
        custom.delete_namespaced_custom_object(
            keys.GROUP, keys.VERSION, OPERATOR_NAMESPACE, keys.PLURAL, keys.CLUSTER_DEFAULT_NAME
        )
        waiting.wait_for(lambda: not _cluster_default_exists(custom), what="cluster-default to be gone")


def _cluster_default_exists(custom: client.CustomObjectsApi) -> bool:
    try:
        custom.get_namespaced_custom_object(
            keys.GROUP, keys.VERSION, OPERATOR_NAMESPACE, keys.PLURAL, keys.CLUSTER_DEFAULT_NAME
        )
    except client.ApiException as error:
        if error.status == 404:
            return False
        raise
    return True

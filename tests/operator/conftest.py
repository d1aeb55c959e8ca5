"""Fixtures for the operator's tests: the CRD on the local control plane, and the operator as a
real process (``python -m stigg_operator``) whose webhook the real apiserver calls over TLS."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from stigg_localcluster import cluster
from stigg_operator import keys
from stigg_sidecar import childproc
from tests import waiting

ROOT = pathlib.Path(__file__).resolve().parents[2]
OPERATOR_NAMESPACE = "stigg-system"
WEBHOOK_CONFIG = "stigg-sidecar-injector"
TEST_IMAGE = "registry.example/stigg/sidecar:test"


@pytest.fixture(scope="session")
def crd(local_cluster: cluster.LocalCluster, api_client: client.ApiClient) -> None:
    local_cluster.kubectl("apply", "--server-side", "-f", str(ROOT / "crds"))
    local_cluster.kubectl(
        "wait", "--for=condition=Established", "crd/stiggentitlements.sidecar.stigg.io", "--timeout=30s"
    )


class Operator:
    def __init__(
        self, local: cluster.LocalCluster, log_path: pathlib.Path, extra_env: dict[str, str]
    ) -> None:
        self.local = local
        self.log_path = log_path
        self.port = childproc.free_port()
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "KUBECONFIG": str(local.kubeconfig_path),
            "STIGG_OPERATOR_NAMESPACE": OPERATOR_NAMESPACE,
            "STIGG_OPERATOR_WEBHOOK_ADDRESS": "127.0.0.1",
            "STIGG_OPERATOR_WEBHOOK_PORT": str(self.port),
            "STIGG_OPERATOR_WEBHOOK_URL": f"https://127.0.0.1:{self.port}",
            "STIGG_OPERATOR_STATUS_INTERVAL_SECONDS": "1",
            "STIGG_OPERATOR_SIDECAR_IMAGE": TEST_IMAGE,
            **extra_env,
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, api: client.ApiClient) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "stigg_operator"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
                preexec_fn=childproc.die_with_parent(),  # noqa: PLW1509 -- prctl only
            )
        admission = client.AdmissionregistrationV1Api(api)

        def webhook_ready() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"the operator exited:\n{self.log()[-3000:]}")
            try:
                admission.read_mutating_webhook_configuration(WEBHOOK_CONFIG)
            except client.ApiException:
                return False
            return "Listening for webhooks" in self.log() or _port_open(self.port)

        waiting.wait_for(webhook_ready, timeout=60, what="the operator's webhook")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def _port_open(port: int) -> bool:
    import socket  # noqa: PLC0415

    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def ensure_namespace(core: client.CoreV1Api, name: str) -> None:
    try:
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    except client.ApiException as error:
        if error.status != 409:
            raise


@pytest.fixture(scope="module")
def operator(
    local_cluster: cluster.LocalCluster,
    api_client: client.ApiClient,
    crd: None,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Operator]:
    """The operator running against the session's cluster; its webhook is removed afterwards."""
    core = client.CoreV1Api(api_client)
    ensure_namespace(core, OPERATOR_NAMESPACE)
    running = Operator(local_cluster, tmp_path_factory.mktemp("operator") / "operator.log", {})
    running.start(api_client)
    try:
        yield running
    finally:
        running.stop()
        remove_webhook(api_client)


def remove_webhook(api: client.ApiClient) -> None:
    """A stale Fail-policy webhook would block every later Pod creation: always remove it."""
    try:
        client.AdmissionregistrationV1Api(api).delete_mutating_webhook_configuration(WEBHOOK_CONFIG)
    except client.ApiException as error:
        if error.status != 404:
            raise


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

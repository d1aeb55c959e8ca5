"""Fixtures shared by every test folder: one real local control plane per test session.

Tests are split by what they need: ``tests/unit`` holds the pure ones (no Go, no control
plane, no server process; ``make test-unit``), ``tests/integration`` the ones that run real
processes (the sidecar, the emulator, Redis, the local cluster). Every test that uses the
cluster gets the ``cluster`` marker here, and a unit test that asks for it is an error.

The cluster is built on first use (see ``stigg_localcluster.build``), started once on free
loopback ports, and stopped when the session ends, also when a test fails or the run is
interrupted (its processes die with the pytest process, see ``stigg_localcluster.processes``).
"""

from __future__ import annotations

import hashlib
import pathlib
import re
from collections.abc import Iterator

import pytest
from kubernetes import client, config

from stigg_devkit import waiting
from stigg_localcluster import build, cluster

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent


CLUSTER_FIXTURES = {"control_plane_binaries", "node_binaries", "local_cluster", "api_client"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    unit = REPO_ROOT / "tests" / "unit"
    for item in items:
        if CLUSTER_FIXTURES & set(getattr(item, "fixturenames", ())):
            if item.path.is_relative_to(unit):
                raise pytest.UsageError(f"{item.nodeid}: a unit test must not need the local cluster")
            item.add_marker(pytest.mark.cluster)


@pytest.fixture(scope="session")
def control_plane_binaries() -> build.Binaries:
    return build.ensure_built()


@pytest.fixture(scope="session")
def node_binaries() -> build.Binaries:
    """Every binary a cluster with a node runs (containerd, kubelet, …) and the pause image."""
    return build.ensure_built(node=True)


@pytest.fixture(scope="session")
def local_cluster(
    tmp_path_factory: pytest.TempPathFactory, control_plane_binaries: build.Binaries
) -> Iterator[cluster.LocalCluster]:
    """A ready cluster: apiserver ready, controllers running, the default ServiceAccount made."""
    local = cluster.LocalCluster(tmp_path_factory.mktemp("cluster"), binaries=control_plane_binaries)
    local.start()
    try:
        yield local
    finally:
        local.stop()


@pytest.fixture(scope="session")
def api_client(local_cluster: cluster.LocalCluster) -> Iterator[client.ApiClient]:
    """An admin (system:masters) API client for the session's cluster."""
    api = config.new_client_from_config(config_file=str(local_cluster.kubeconfig_path))
    try:
        yield api
    finally:
        api.close()


@pytest.fixture
def namespace(api_client: client.ApiClient, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace per test, deleted afterwards (the namespace controller empties it).

    Yielded once its ``default`` ServiceAccount exists, so Pods can be created in it at once
    (the ServiceAccount admission plugin rejects Pods until then, as in any cluster).
    """
    core = client.CoreV1Api(api_client)
    digest = hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:6]
    name = re.sub(r"[^a-z0-9-]+", "-", f"t-{request.node.name.lower()}")[:48].strip("-") + f"-{digest}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))

    def has_default_service_account() -> bool:
        return any(sa.metadata.name == "default" for sa in core.list_namespaced_service_account(name).items)

    waiting.wait_for(has_default_service_account, what=f"the default ServiceAccount in {name}")
    try:
        yield name
    finally:
        core.delete_namespace(name)

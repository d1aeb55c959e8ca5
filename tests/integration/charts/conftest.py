"""The chart's lifecycle suite: a local cluster with a real node of its own (kubelet,
containerd), the project's images imported into it, for the real helm to install, upgrade,
roll back and uninstall the chart (tests/integration/charts/test_helm_lifecycle.py).

Module-scoped, and always stopped at the end, also when a test fails (``LocalCluster.stop``
removes its processes, mounts and network namespace). It is a cluster apart from the node
suite's (tests/integration/node), which deploys with kustomize: the chart's uninstall must find
nothing but what the chart put there.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stigg_devkit import kube
from tests.integration.node import conftest as node_conftest


@pytest.fixture(scope="module")
def helm_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[kube.Cluster]:
    with node_conftest.local_node_cluster(tmp_path_factory.mktemp("chart-cluster")) as target:
        yield target

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

from stigg_devkit import images, kube
from stigg_localcluster import build, cluster


@pytest.fixture(scope="module")
def helm_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[kube.Cluster]:
    built_images = images.ensure_built()
    local = cluster.LocalCluster(
        tmp_path_factory.mktemp("chart-cluster"), node=True, binaries=build.ensure_built(node=True)
    )
    local.start()
    try:
        local.import_images([image.archive for image in built_images.values()])
        target = kube.Cluster(local.kubeconfig_path, str(local.binaries.kubectl))
        try:
            yield target
        finally:
            target.close()
    finally:
        local.stop()

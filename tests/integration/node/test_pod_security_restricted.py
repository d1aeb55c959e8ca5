"""In a namespace opted in to injection that enforces Pod Security ``restricted`` (latest), the
apiserver admits the app Pod *after* the webhook added the sidecar (mutation runs before the
PodSecurity check, so the injected container is judged too), and it runs Ready on the real
kubelet; an ordinary Pod that is not compliant is refused there, its violations naming its own
container only (the sidecar injected beside it is compliant), so the policy is enforced."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from stigg_devkit import kube
from stigg_operator import keys
from tests.integration.node import conftest

RESTRICTED = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
}


@pytest.fixture
def restricted_namespace(deployed: kube.Cluster, emulator_in_cluster: str) -> Iterator[str]:
    with conftest.opted_in_namespace(deployed, emulator_in_cluster, labels=RESTRICTED) as name:
        yield name


def _plain_pod(name: str, image: str) -> dict[str, Any]:
    """A Pod as people write one without thinking of Pod Security: no securityContext at all."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "containers": [
                {"name": "plain", "image": image, "imagePullPolicy": "Never", "command": ["sleep", "3600"]}
            ]
        },
    }


def test_the_injected_pod_runs_where_restricted_is_enforced(
    deployed: kube.Cluster, restricted_namespace: str, image_refs: dict[str, str]
) -> None:
    local, ns = deployed, restricted_namespace
    labels = local.get(f"namespace/{ns}")["metadata"]["labels"]
    assert labels[keys.NAMESPACE_INJECTION_LABEL] == "enabled"
    assert {k: labels[k] for k in RESTRICTED} == RESTRICTED

    # Not compliant: refused by the apiserver, for its own container's settings only.
    plain = _plain_pod("plain", image_refs["sidecar"])
    with pytest.raises(kube.KubectlError) as refused:
        local.kubectl("-n", ns, "apply", "-f", "-", input_text=json.dumps(plain))
    message = str(refused.value)
    assert 'violates PodSecurity "restricted:latest"' in message, message
    assert 'container "plain" must set securityContext.allowPrivilegeEscalation=false' in message, message
    assert keys.SIDECAR_CONTAINER not in message, message
    assert not local.kubectl("-n", ns, "get", "pods", "-o", "name").strip()

    # Compliant: admitted with the sidecar, and Ready on the node.
    live = conftest.run_pod(local, ns, conftest.app_pod("shop", image_refs["sidecar"]))
    (sidecar,) = live["spec"]["initContainers"]
    assert sidecar["name"] == keys.SIDECAR_CONTAINER
    assert live["metadata"]["labels"][keys.INJECTED_LABEL] == "true"
    statuses = live["status"]["initContainerStatuses"] + live["status"]["containerStatuses"]
    assert {s["name"]: s["ready"] for s in statuses} == {keys.SIDECAR_CONTAINER: True, "app": True}
    assert all(s["restartCount"] == 0 for s in statuses), statuses

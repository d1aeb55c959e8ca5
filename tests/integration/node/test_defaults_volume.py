"""A defaults edit reaches a running sidecar through the ConfigMap volume, with no restart: the
operator re-renders the defaults ConfigMap, the kubelet updates the mounted volume at its next
sync of the Pod (``syncFrequency`` is 10 s on this node; the default 1 min would mean up to a
minute or more), and the sidecar reloads the file. The time it took is printed (``-s``)."""

from __future__ import annotations

import json
import time

from stigg_devkit import images, waiting
from stigg_localcluster import cluster, node
from stigg_operator import keys
from tests.integration.node import conftest

FEATURE = "feature-volume-edit"


def test_a_defaults_edit_reaches_the_running_sidecar(
    deployed: cluster.LocalCluster, app_namespace: str, built_images: dict[str, images.Image]
) -> None:
    resource = f"{keys.PLURAL}.{keys.GROUP}/shop"
    patch = {"spec": {"offline": True, "upstream": None, "defaults": {FEATURE: {"hasAccess": False}}}}
    deployed.kubectl("-n", app_namespace, "patch", resource, "--type=merge", "-p", json.dumps(patch))
    live = conftest.run_pod(
        deployed, app_namespace, conftest.app_pod("defaults", built_images["sidecar"].ref)
    )
    pod_ip, uid = live["status"]["podIP"], live["metadata"]["uid"]
    path = f"/entitlement?customer=anyone&feature={FEATURE}"
    first = conftest.app_get(deployed, pod_ip, path)
    assert (first.get("hasAccess", False), first["isFallback"]) == (False, True)

    edit = {"spec": {"defaults": {FEATURE: {"hasAccess": True}}}}
    started = time.monotonic()
    deployed.kubectl("-n", app_namespace, "patch", resource, "--type=merge", "-p", json.dumps(edit))
    waiting.wait_for(
        lambda: conftest.app_get(deployed, pod_ip, path).get("hasAccess") is True,
        what="the edited default to be served",
        timeout=90,
    )
    took = time.monotonic() - started
    sync = node.SYNC_FREQUENCY_SECONDS
    print(f"\ndefaults edit -> served by the running sidecar in {took:.1f}s (kubelet syncFrequency {sync}s)")
    after = conftest.get(deployed, "-n", app_namespace, "pod/defaults")
    assert after["metadata"]["uid"] == uid
    assert all(s["restartCount"] == 0 for s in after["status"]["initContainerStatuses"])
    assert took < 4 * node.SYNC_FREQUENCY_SECONDS + 30

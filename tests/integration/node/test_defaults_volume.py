"""A defaults edit reaches a running sidecar through the ConfigMap volume, with no restart: the
operator re-renders the defaults ConfigMap, the kubelet updates the mounted volume at its next
sync of the Pod, and the sidecar reloads the file. The kubelet's ``syncFrequency`` is read
from its ``/configz`` (10 s on the local node; kubelet's default, 1 min, on kind and most
clusters), and bounds the wait; the time it took is printed with it (``-s``)."""

from __future__ import annotations

import json
import re
import time

from stigg_devkit import kube, waiting
from stigg_operator import keys
from tests.integration.node import conftest

FEATURE = "feature-volume-edit"


def _sync_frequency_seconds(target: kube.Cluster, node_name: str) -> float:
    """The kubelet's ``syncFrequency`` on ``node_name`` (a duration such as ``10s``, ``1m0s``)."""
    configz = json.loads(target.kubectl("get", "--raw", f"/api/v1/nodes/{node_name}/proxy/configz"))
    text = configz["kubeletconfig"]["syncFrequency"]
    match = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?", text)
    assert text, "no syncFrequency in the kubelet's configz"
    assert match, f"unexpected syncFrequency {text!r}"
    hours, minutes, seconds = (float(part or 0) for part in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def test_a_defaults_edit_reaches_the_running_sidecar(
    deployed: kube.Cluster, app_namespace: str, image_refs: dict[str, str]
) -> None:
    resource = f"{keys.PLURAL}.{keys.GROUP}/shop"
    patch = {"spec": {"offline": True, "upstream": None, "defaults": {FEATURE: {"hasAccess": False}}}}
    deployed.kubectl("-n", app_namespace, "patch", resource, "--type=merge", "-p", json.dumps(patch))
    live = conftest.run_pod(deployed, app_namespace, conftest.app_pod("defaults", image_refs["sidecar"]))
    uid = live["metadata"]["uid"]
    sync = _sync_frequency_seconds(deployed, live["spec"]["nodeName"])
    path = f"/entitlement?customer=anyone&feature={FEATURE}"
    first = conftest.app_get(deployed, live, path)
    assert (first.get("hasAccess", False), first["isFallback"]) == (False, True)

    edit = {"spec": {"defaults": {FEATURE: {"hasAccess": True}}}}
    started = time.monotonic()
    deployed.kubectl("-n", app_namespace, "patch", resource, "--type=merge", "-p", json.dumps(edit))
    waiting.wait_for(
        lambda: conftest.app_get(deployed, live, path).get("hasAccess") is True,
        what="the edited default to be served",
        timeout=4 * sync + 30,
    )
    took = time.monotonic() - started
    print(
        f"\ndefaults edit -> served by the running sidecar in {took:.1f}s (kubelet syncFrequency {sync:g}s)"
    )
    after = deployed.get("-n", app_namespace, "pod/defaults")
    assert after["metadata"]["uid"] == uid
    assert all(s["restartCount"] == 0 for s in after["status"]["initContainerStatuses"])
    assert took < 4 * sync + 30

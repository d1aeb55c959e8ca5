"""``make demo`` (demo/run.py) runs end to end on a fresh local cluster with a real node, every
step happening in real Pods, and cleans up after itself."""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

import pytest

from stigg_devkit import images
from stigg_localcluster import build, cgroups, processes, sandbox

DEMO = pathlib.Path(__file__).resolve().parents[2] / "demo" / "run.py"


@pytest.mark.slow
def test_demo_runs_in_real_pods_and_stops_its_cluster() -> None:
    build.ensure_built(node=True)
    built = images.ensure_built()
    completed = subprocess.run(
        [sys.executable, str(DEMO)], capture_output=True, text=True, timeout=900, check=False
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    out = completed.stdout
    assert f"Server Version: {build.pinned_versions().kubernetes}" in out
    assert re.search(r"^stigg-node\s+Ready\s", out, re.M), "the node is Ready"
    for image in built.values():
        assert f"{image.ref}  " in out
    # The operator: deployed by kubectl apply -k, running as a Pod of its image.
    assert "deployment.apps/stigg-operator created" in out
    assert re.search(r"^stigg-operator-[a-z0-9]+-[a-z0-9]+\s+1/1\s+Running\s", out, re.M)
    assert re.search(r"^stigg-sidecar-injector\s+2\s", out, re.M), "the operator registered its webhook"
    # The team's Pods: injected, and both containers running on the node.
    assert len(re.findall(r"^shop-api-[a-z0-9]+-[a-z0-9]+\s+2/2\s+Running\s", out, re.M)) >= 2
    assert (
        len(
            re.findall(
                rf"^shop-api-\S+\s+stigg-sidecar\s+Always\s+{re.escape(built['sidecar'].ref)}\s+api\s+true\s+true$",
                out,
                re.M,
            )
        )
        == 2
    )
    assert "sidecar answered at start: yes" in out
    assert re.search(r"^shop\s+True\s+Sidecar\s+2\s", out, re.M), "status: Ready and 2 injected Pods"
    # The checks, made by the app in its Pod through the sidecar.
    assert re.search(r"^customer-pro may use feature-sso: True \([\d.]+ ms, a miss\)$", out, re.M)
    assert "reason=ACCESS_DENIED_REASON_REQUESTED_USAGE_EXCEEDING_LIMIT" in out
    assert "reported 700 calls (durably queued for the upstream): 950 used; the next check sees 950" in out
    assert "INVALID_ARGUMENT: options.requested_usage: must be a non-negative number" in out
    assert re.search(
        r"^customer-free may use feature-sso: True, \d+ ms after the upgrade was sent", out, re.M
    )
    # A workload opted in by its annotation, in a namespace that is not.
    assert len(re.findall(r"^invoices-\S+\s+stigg-sidecar\s+invoices\s+true\s+Running$", out, re.M)) == 2
    assert "(unchanged); both Pods still carry the sidecar" in out
    assert re.search(r"^billing\s+billing\s+True\s+Sidecar\s+2\s", out, re.M)
    # The outage and the defaults edit.
    assert "customer-pro (cached): hasAccess=True, isFallback=False" in out
    assert "customer-enterprise (never seen): hasAccess=False, isFallback=True" in out
    assert re.search(r"customer-enterprise may use feature-sso: True after [\d.]+s, without a restart", out)
    assert out.rstrip().endswith("Demo complete: the cluster is stopped.")
    found = re.search(r"^ready at https://127\.0\.0\.1:\d+ in [\d.]+s \(state in (\S+)\)$", out, re.M)
    assert found is not None, out[:2000]
    state_dir = pathlib.Path(found.group(1))
    assert not state_dir.exists(), "the demo left its state folder behind"
    assert list(processes.find_referencing(state_dir)) == [], "the demo left processes behind"
    assert cgroups.existing(sandbox.cgroup_name(state_dir)) == [], "the demo left its cgroups behind"

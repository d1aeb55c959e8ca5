"""``make demo`` (demo/run.py) runs end to end on a fresh local cluster and cleans up after itself."""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

import pytest

from stigg_localcluster import build, processes

DEMO = pathlib.Path(__file__).resolve().parents[2] / "demo" / "run.py"


@pytest.mark.slow
def test_demo_runs_and_stops_its_cluster(control_plane_binaries: build.Binaries) -> None:
    completed = subprocess.run(
        [sys.executable, str(DEMO)], capture_output=True, text=True, timeout=300, check=False
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    out = completed.stdout
    assert f"Server Version: {build.pinned_versions().kubernetes}" in out
    assert (
        "customresourcedefinition.apiextensions.k8s.io/stiggentitlements.sidecar.stigg.io serverside-applied"
        in out
    )
    assert re.search(r"^stigg-sidecar-injector\s+2\s", out, re.M), "the operator registered its webhook"
    assert (
        len(
            re.findall(
                r"^shop-api-[a-z0-9]+-[a-z0-9]+\s+stigg-sidecar\s+Always\s+api\s+shop/shop@", out, re.M
            )
        )
        == 2
    )
    assert "SERVER_API_KEY=<from Secret stigg-server-api-key>" in out
    assert re.search(r"^shop\s+True\s+Sidecar\s+2\s", out, re.M), "status: Ready and 2 injected Pods"
    # A workload opted in by its annotation, in a namespace that is not.
    assert (
        len(re.findall(r"^invoices-[a-z0-9]+-[a-z0-9]+\s+stigg-sidecar\s+invoices\s+true$", out, re.M)) == 2
    )
    assert "(unchanged); both Pods still carry the sidecar" in out
    assert re.search(r"^billing\s+billing\s+True\s+Sidecar\s+2\s", out, re.M)
    # The real-time stream.
    assert re.search(
        r"^customer-free may use feature-sso: True, \d+ ms after the upgrade was sent", out, re.M
    )
    assert re.search(r"startup probe passed after [\d.]+s; readiness True, liveness True", out)
    assert out.rstrip().endswith("Demo complete: the cluster is stopped.")
    # Part 2: the sidecar beside the upstream emulator.
    assert re.search(r"^customer-pro may use feature-sso: True \([\d.]+ ms, a miss\)$", out, re.M)
    assert "reason=ACCESS_DENIED_REASON_REQUESTED_USAGE_EXCEEDING_LIMIT" in out
    assert "reported 700 calls (durably queued for the upstream): 950 used; the next check sees 950" in out
    assert "INVALID_ARGUMENT: options.requested_usage: must be a non-negative number" in out
    assert "customer-pro (cached): has_access=True, is_fallback=False" in out
    assert "customer-enterprise (never seen): has_access=False, is_fallback=True" in out
    assert re.search(r"customer-enterprise may use feature-sso: True after [\d.]+s, without a restart", out)
    found = re.search(r"^ready at https://127\.0\.0\.1:\d+ in [\d.]+s \(state in (\S+)\)$", out, re.M)
    assert found is not None, out[:2000]
    state_dir = pathlib.Path(found.group(1))
    assert not state_dir.exists(), "the demo left its state folder behind"
    assert list(processes.find_referencing(state_dir)) == [], "the demo left processes behind"

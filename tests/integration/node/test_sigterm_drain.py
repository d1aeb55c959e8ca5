"""SIGTERM of a Pod stops the app first and the injected sidecar only after it: the app waits
``DELAY`` seconds after its SIGTERM, then sends a last usage report through the sidecar, and
that report reaches the upstream. Had the kubelet signalled both at once (an ordinary
container), the sidecar would have drained and exited within its own short shutdown delay,
and the report would have found no one listening."""

from __future__ import annotations

import uuid

from stigg_devkit import kube, waiting
from stigg_emulator import in_cluster
from tests.integration.node import conftest

DELAY = 4  # seconds: well beyond the sidecar's own shutdown delay


def test_the_sidecar_outlives_the_app_at_sigterm(
    deployed: kube.Cluster,
    app_namespace: str,
    image_refs: dict[str, str],
    emulator: in_cluster.InClusterEmulator,
) -> None:
    customer = f"customer-drain-{uuid.uuid4().hex[:6]}"
    conftest.emulator_admin(emulator, "PUT", f"customers/{customer}", {"plan": "plan-free"})
    pod = conftest.app_pod("draining", image_refs["sidecar"])
    pod["spec"]["containers"][0]["env"] = [
        {"name": "APP_FINAL_REPORT", "value": f"{customer}:feature-api-calls:7"},
        {"name": "APP_SIGTERM_DELAY_SECONDS", "value": str(DELAY)},
    ]
    conftest.run_pod(deployed, app_namespace, pod)
    before = conftest.emulator_admin(emulator, "GET", f"usage/{customer}")["usage"].get(
        "feature-api-calls", 0
    )

    deployed.kubectl("-n", app_namespace, "delete", "pod", "draining", "--wait=false")
    waiting.wait_for(
        lambda: (
            conftest.emulator_admin(emulator, "GET", f"usage/{customer}")["usage"].get("feature-api-calls", 0)
            == before + 7
        ),
        what="the app's last report to reach the upstream through the sidecar",
        timeout=30,
    )

"""A Job's Pod with the injected native sidecar completes on the real kubelet: its one app
container asks the sidecar (over localhost) for a granted and a denied entitlement and exits 0
only if both answers are the upstream's, not fallbacks; the kubelet then stops the sidecar (a
native sidecar never keeps a Pod from finishing), the sidecar exits cleanly on that SIGTERM,
and the Job reaches Complete with one success."""

from __future__ import annotations

import json
from typing import Any

from stigg_devkit import kube, waiting
from stigg_operator import keys
from tests.integration.node import conftest

# Run in the app container: one real check through the sidecar; the exit code is the verdict.
CHECK = """
import sys
from stigg_sidecar import client

with client.SidecarClient(client.default_target(), timeout=10.0) as sidecar:
    pro = sidecar.get_boolean_entitlement("customer-pro", "feature-sso")
    free = sidecar.get_boolean_entitlement("customer-free", "feature-sso")
seen = (pro.has_access, pro.is_fallback, free.has_access, free.is_fallback)
print(f"target={client.default_target()} pro={pro.has_access}/{pro.is_fallback} "
      f"free={free.has_access}/{free.is_fallback}", flush=True)
sys.exit(0 if seen == (True, False, False, False) else 3)
"""


def _job(name: str, image: str) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": 180,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {
                            "name": "check",
                            "image": image,
                            "imagePullPolicy": "Never",
                            "command": ["python", "-c", CHECK],
                        }
                    ],
                }
            },
        },
    }


def _finished(local: kube.Cluster, namespace: str, name: str) -> dict[str, Any] | None:
    """The Job once it is Complete or Failed, else None."""
    job: dict[str, Any] = local.get("-n", namespace, f"job/{name}")
    status = job.get("status") or {}
    for kind in ("Complete", "Failed"):
        if conftest.condition(status, kind).get("status") == "True":
            return job
    return None


def test_a_job_with_the_injected_sidecar_completes(
    deployed: kube.Cluster, app_namespace: str, image_refs: dict[str, str]
) -> None:
    local, ns = deployed, app_namespace
    job_body = _job("check", image_refs["sidecar"])
    local.kubectl("-n", ns, "apply", "-f", "-", input_text=json.dumps(job_body))

    job = waiting.wait_for(lambda: _finished(local, ns, "check"), what="the Job to finish", timeout=150)
    (pod,) = local.get("-n", ns, "pods", "-l", "batch.kubernetes.io/job-name=check")["items"]
    pod_name = pod["metadata"]["name"]
    logs = local.kubectl("-n", ns, "logs", pod_name, "-c", "check", check=False)
    status = job["status"]
    assert conftest.condition(status, "Complete").get("status") == "True", (status, logs)
    assert status.get("succeeded") == 1, status
    assert not status.get("failed"), status
    assert "pro=True/False free=False/False" in logs, logs

    # The Pod was injected: the sidecar is a native one (an init container that restarts
    # always), and the app container was told where it is.
    (sidecar,) = pod["spec"]["initContainers"]
    assert sidecar["name"] == keys.SIDECAR_CONTAINER
    assert sidecar["restartPolicy"] == "Always"
    env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}
    assert env[keys.APP_HOST_ENV] == "localhost"

    # After the app container exits, the kubelet stops the sidecar: the Pod is terminal and
    # every container in it is terminated, the sidecar by its own clean exit on SIGTERM.
    def terminal() -> dict[str, Any] | None:
        live: dict[str, Any] = local.get("-n", ns, f"pod/{pod_name}")
        status = live["status"]
        statuses = status.get("initContainerStatuses", []) + status.get("containerStatuses", [])
        if status.get("phase") == "Succeeded" and all("terminated" in s["state"] for s in statuses):
            return live
        return None

    live = waiting.wait_for(terminal, what="the Pod to be Succeeded with every container stopped", timeout=60)
    (sidecar_status,) = live["status"]["initContainerStatuses"]
    (app_status,) = live["status"]["containerStatuses"]
    assert app_status["state"]["terminated"]["exitCode"] == 0, app_status
    stopped = sidecar_status["state"]["terminated"]
    assert stopped["exitCode"] == 0, sidecar_status
    assert stopped["reason"] == "Completed", sidecar_status
    # It was stopped after the app had finished, not before.
    assert stopped["finishedAt"] >= app_status["state"]["terminated"]["finishedAt"], live["status"]
    assert sidecar_status["restartCount"] == 0, sidecar_status
    sidecar_logs = local.kubectl("-n", ns, "logs", pod_name, "-c", keys.SIDECAR_CONTAINER)
    assert "signal received: draining" in sidecar_logs, sidecar_logs

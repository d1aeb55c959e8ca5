"""A native sidecar holds the application back: the kubelet starts the app container only once
the injected sidecar's startup probe passes, so the app's very first call already finds the
sidecar serving (a sidecar started as an ordinary container would race the app)."""

from __future__ import annotations

import datetime

from stigg_devkit import kube
from stigg_operator import keys
from tests.integration.node import conftest


def _time(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_the_app_starts_after_the_sidecar_is_up(
    deployed: kube.Cluster, app_namespace: str, image_refs: dict[str, str]
) -> None:
    live = conftest.run_pod(deployed, app_namespace, conftest.app_pod("ordered", image_refs["sidecar"]))
    sidecar = live["spec"]["initContainers"][0]
    assert sidecar["name"] == keys.SIDECAR_CONTAINER
    assert sidecar["restartPolicy"] == "Always"
    assert sidecar["startupProbe"]["httpGet"]["path"]

    (sidecar_status,) = live["status"]["initContainerStatuses"]
    (app_status,) = live["status"]["containerStatuses"]
    assert sidecar_status["started"] is True
    assert _time(app_status["state"]["running"]["startedAt"]) >= _time(
        sidecar_status["state"]["running"]["startedAt"]
    )
    logs = deployed.kubectl("-n", app_namespace, "logs", "ordered", "-c", "app")
    assert "sidecar answered at start: yes" in logs
    assert "sidecar answered at start: no" not in logs

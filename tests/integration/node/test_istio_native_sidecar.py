"""Beside an Istio-shaped native sidecar on the real kubelet: a Pod as Istio's injector leaves it
(``istio-proxy`` first in ``spec.initContainers`` with ``restartPolicy: Always``, binding 15020,
15021 and 15090 while declaring only 15090) gets the sidecar right after ``istio-proxy``, on
ports clear of Istio's; the kubelet starts it once the proxy is started, the Pod becomes Ready,
and the app gets answers. (With the former default, 15020, the sidecar could not bind its port
and the Pod never started.) No ``istio-init``: no iptables here, only the ports and the order."""

from __future__ import annotations

import datetime
from typing import Any

from stigg_devkit import kube
from stigg_operator import keys
from tests.integration.node import conftest

ISTIO_PORTS = (15020, 15021, 15090)  # merged metrics, health, Envoy's Prometheus
# One JSON listener per port, as istio-proxy's pilot-agent and Envoy bind them.
FAKE_PROXY = f"""
import http.server, json, threading
class Answer(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({{"port": self.server.server_address[1]}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)
servers = [http.server.ThreadingHTTPServer(("0.0.0.0", p), Answer) for p in {ISTIO_PORTS!r}]
for server in servers[1:]:
    threading.Thread(target=server.serve_forever, daemon=True).start()
servers[0].serve_forever()
"""


def _istio_proxy(image: str) -> dict[str, Any]:
    return {
        "name": "istio-proxy",
        "image": image,
        "imagePullPolicy": "Never",
        "restartPolicy": "Always",
        "command": ["python", "-c", FAKE_PROXY],
        "ports": [{"name": "http-envoy-prom", "containerPort": 15090, "protocol": "TCP"}],
        "startupProbe": {"httpGet": {"path": "/healthz/ready", "port": 15021}, "periodSeconds": 1},
        "readinessProbe": {"httpGet": {"path": "/healthz/ready", "port": 15021}, "periodSeconds": 2},
        "securityContext": kube.restricted_security_context(),
    }


def _started(status: dict[str, Any]) -> datetime.datetime:
    return datetime.datetime.fromisoformat(status["state"]["running"]["startedAt"].replace("Z", "+00:00"))


def test_a_pod_with_istios_native_sidecar_gets_ready_and_answers(
    deployed: kube.Cluster, app_namespace: str, image_refs: dict[str, str]
) -> None:
    image = image_refs["sidecar"]
    pod = conftest.app_pod("meshed", image, initContainers=[_istio_proxy(image)])
    live = conftest.run_pod(deployed, app_namespace, pod)

    assert [c["name"] for c in live["spec"]["initContainers"]] == ["istio-proxy", keys.SIDECAR_CONTAINER]
    sidecar = live["spec"]["initContainers"][1]
    assert {p["containerPort"] for p in sidecar["ports"]}.isdisjoint(range(15000, 15100))
    statuses = {s["name"]: s for s in live["status"]["initContainerStatuses"]}
    assert statuses[keys.SIDECAR_CONTAINER]["ready"] is True
    assert statuses["istio-proxy"]["ready"] is True
    assert _started(statuses[keys.SIDECAR_CONTAINER]) >= _started(statuses["istio-proxy"])

    assert conftest.http_json(deployed, live, 15020, "/stats/prometheus") == {"port": 15020}
    answer = conftest.app_get(deployed, live, "/entitlement?customer=customer-pro&feature=feature-sso")
    assert answer["hasAccess"] is True
    assert answer["isFallback"] is False

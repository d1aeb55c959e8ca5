"""The local apiserver calls an admission webhook over TLS at a loopback URL, verifying it with
the ``caBundle``, exactly as a cluster's apiserver calls the operator's webhook."""

from __future__ import annotations

import base64
import http.server
import json
import pathlib
import ssl
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from stigg_operator import pki

SEEN_LABEL = "webhook.test/seen"


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Answers AdmissionReviews with a JSONPatch that adds a label, and records each request."""

    reviews: list[dict[str, Any]]

    def do_POST(self) -> None:
        review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.reviews.append(review)
        labels = review["request"]["object"]["metadata"].get("labels") or {}
        patch = [{"op": "add", "path": "/metadata/labels", "value": {**labels, SEEN_LABEL: "yes"}}]
        body = json.dumps(
            {
                "apiVersion": "admission.k8s.io/v1",
                "kind": "AdmissionReview",
                "response": {
                    "uid": review["request"]["uid"],
                    "allowed": True,
                    "patchType": "JSONPatch",
                    "patch": base64.b64encode(json.dumps(patch).encode()).decode(),
                },
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def webhook_server(tmp_path: pathlib.Path) -> Iterator[tuple[str, bytes, list[dict[str, Any]]]]:
    """A TLS server on a free loopback port: (its URL, the CA that signed it, the reviews it got)."""
    ca = pki.CertificateAuthority.create("webhook-test-ca")
    cert, key = ca.issue_serving("webhook", ["127.0.0.1"]).write(tmp_path, "webhook")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    reviews: list[dict[str, Any]] = []
    handler = type("Handler", (_Recorder,), {"reviews": reviews})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_port}/mutate", ca.cert_pem, reviews
    finally:
        server.shutdown()
        server.server_close()


def test_apiserver_calls_webhook_over_tls(
    api_client: client.ApiClient,
    namespace: str,
    webhook_server: tuple[str, bytes, list[dict[str, Any]]],
) -> None:
    url, ca_pem, reviews = webhook_server
    core = client.CoreV1Api(api_client)
    admission = client.AdmissionregistrationV1Api(api_client)
    core.patch_namespace(namespace, {"metadata": {"labels": {"webhook-test": "on"}}})
    config_name = f"{namespace}-recorder"
    admission.create_mutating_webhook_configuration(
        client.V1MutatingWebhookConfiguration(
            metadata=client.V1ObjectMeta(name=config_name),
            webhooks=[
                client.V1MutatingWebhook(
                    name="recorder.webhook.test",
                    client_config=client.AdmissionregistrationV1WebhookClientConfig(
                        url=url, ca_bundle=base64.b64encode(ca_pem).decode()
                    ),
                    rules=[
                        client.V1RuleWithOperations(
                            api_groups=[""], api_versions=["v1"], operations=["CREATE"], resources=["pods"]
                        )
                    ],
                    namespace_selector=client.V1LabelSelector(match_labels={"webhook-test": "on"}),
                    admission_review_versions=["v1"],
                    side_effects="None",
                    failure_policy="Fail",
                    timeout_seconds=5,
                )
            ],
        )
    )
    try:
        pod = client.V1Pod(
            metadata=client.V1ObjectMeta(name="mutated"),
            spec=client.V1PodSpec(containers=[client.V1Container(name="app", image="example/app:1")]),
        )
        created = core.create_namespaced_pod(namespace, pod)
        unselected = core.create_namespaced_pod("default", pod)
        core.delete_namespaced_pod("mutated", "default")
    finally:
        admission.delete_mutating_webhook_configuration(config_name)

    assert created.metadata.labels == {SEEN_LABEL: "yes"}
    assert not (unselected.metadata.labels or {}).get(SEEN_LABEL), (
        "the namespaceSelector must scope the webhook"
    )
    (review,) = reviews
    request = review["request"]
    assert (request["operation"], request["namespace"], request["object"]["metadata"]["name"]) == (
        "CREATE",
        namespace,
        "mutated",
    )
    assert request["userInfo"]["username"] == "kubernetes-admin"

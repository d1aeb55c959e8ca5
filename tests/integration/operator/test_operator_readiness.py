"""``/readyz`` means "serving admissions with a valid, trusted certificate", on the real
apiserver: 200 while the webhook completes a verified TLS handshake and the webhook
configuration's caBundle trusts its CA; 503 naming the caBundle once that CA is no longer
trusted (here: the bundle replaced by another CA's, with no leader to repair it), and 200 again
when it is trusted again."""

from __future__ import annotations

import base64
import datetime
import pathlib
import urllib.error
import urllib.request

from kubernetes import client

from stigg_devkit import childproc, waiting
from stigg_localcluster import cluster
from stigg_operator import certs
from tests.integration.operator import conftest


def _ready(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 -- http on loopback
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _set_bundle(api: client.ApiClient, bundle: str) -> None:
    admission = client.AdmissionregistrationV1Api(api)
    live = admission.read_mutating_webhook_configuration(conftest.WEBHOOK_CONFIG)
    for hook in live.webhooks:
        hook.client_config.ca_bundle = bundle
    admission.replace_mutating_webhook_configuration(conftest.WEBHOOK_CONFIG, live)


def test_ready_only_while_its_ca_is_trusted(
    local_cluster: cluster.LocalCluster, api_client: client.ApiClient, crd: None, tmp_path: pathlib.Path
) -> None:
    conftest.ensure_namespace(client.CoreV1Api(api_client), conftest.OPERATOR_NAMESPACE)
    url = f"http://127.0.0.1:{childproc.free_port()}/readyz"
    with conftest.LeaseHolder(api_client):  # no leader of ours: nothing repairs the bundle
        operator = conftest.Operator(
            local_cluster, tmp_path / "operator.log", {"STIGG_OPERATOR_READINESS_ENDPOINT": url}
        )
        operator.start(api_client)
        try:
            waiting.wait_for(lambda: _ready(url) == (200, "ready\n"), what="the replica to be ready")
            admission = client.AdmissionregistrationV1Api(api_client)
            trusted = admission.read_mutating_webhook_configuration(conftest.WEBHOOK_CONFIG)
            bundle = trusted.webhooks[0].client_config.ca_bundle
            other = certs.issue(["elsewhere.example"], datetime.timedelta(hours=1))
            _set_bundle(api_client, base64.b64encode(other.ca_pem).decode())

            _, text = waiting.wait_for(
                lambda: (answer := _ready(url))[0] == 503 and answer,
                what="readiness to notice the untrusted CA",
                timeout=30,
            )
            assert "caBundle does not trust" in text, text

            _set_bundle(api_client, bundle)
            waiting.wait_for(lambda: _ready(url) == (200, "ready\n"), what="ready again", timeout=30)
        finally:
            operator.stop()
            operator.remove_webhook(api_client)

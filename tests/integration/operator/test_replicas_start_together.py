"""Two replicas starting at the same moment on a cluster with no certificate Secret, no webhook
configuration and no Lease (a fresh install of the two-replica Deployment), on the real
apiserver: both come up and stay up (each lost race re-reads and takes the winner's object, none
crashes the start), serve the one CA the Secret holds, and exactly one leads."""

from __future__ import annotations

import pathlib
import ssl
import time

from cryptography import x509
from kubernetes import client

from stigg_devkit import waiting
from stigg_localcluster import cluster
from stigg_operator import certs
from tests.integration.operator import conftest

CERT_SECRET = "stigg-operator-webhook-certs"


def _clean(api: client.ApiClient) -> None:
    core, coordination = client.CoreV1Api(api), client.CoordinationV1Api(api)
    for delete in (
        lambda: core.delete_namespaced_secret(CERT_SECRET, conftest.OPERATOR_NAMESPACE),
        lambda: coordination.delete_namespaced_lease(conftest.LEASE, conftest.OPERATOR_NAMESPACE),
    ):
        try:
            delete()
        except client.ApiException as error:
            if error.status != 404:
                raise
    conftest.remove_webhook(api)


def _served_issuer(port: int) -> x509.Name:
    pem = ssl.get_server_certificate(("127.0.0.1", port))
    return x509.load_pem_x509_certificate(pem.encode()).issuer


def test_two_replicas_starting_together_both_stay_up(
    local_cluster: cluster.LocalCluster, api_client: client.ApiClient, crd: None, tmp_path: pathlib.Path
) -> None:
    conftest.ensure_namespace(client.CoreV1Api(api_client), conftest.OPERATOR_NAMESPACE)
    _clean(api_client)
    replicas = [conftest.Operator(local_cluster, tmp_path / f"replica-{n}.log", {}) for n in (1, 2)]
    try:
        for replica in replicas:  # both at once, before either is up
            replica.launch()
        for replica in replicas:
            replica.wait_up(api_client, pointed=False)
        time.sleep(3)  # a start that failed after listening would have exited by now
        for replica in replicas:
            assert replica.process is not None
            assert replica.process.poll() is None, replica.log()[-3000:]
        secret = client.CoreV1Api(api_client).read_namespaced_secret(CERT_SECRET, conftest.OPERATOR_NAMESPACE)
        stored = certs.WebhookCerts.from_secret_data(secret.data)
        assert stored is not None
        ca = x509.load_pem_x509_certificate(stored.ca_pem).subject
        assert [_served_issuer(replica.port) for replica in replicas] == [ca, ca], "one CA for both"
        waiting.wait_for(
            lambda: sum("leading now" in replica.log() for replica in replicas) == 1, what="one leader"
        )
    finally:
        for replica in replicas:
            replica.stop()
        conftest.remove_webhook(api_client)

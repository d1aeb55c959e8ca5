"""The leader repairs a webhook configuration that no longer trusts its CA (edited by hand, or
restored from an old backup) within a few refresh rounds, on the real apiserver, and the
webhook injects again."""

from __future__ import annotations

import base64
import datetime

from kubernetes import client

from stigg_devkit import waiting
from stigg_operator import certs
from tests.integration.operator import conftest


def _bundles(api: client.ApiClient) -> set[str]:
    live = client.AdmissionregistrationV1Api(api).read_mutating_webhook_configuration(conftest.WEBHOOK_CONFIG)
    return {hook.client_config.ca_bundle for hook in live.webhooks}


def test_the_leader_trusts_its_ca_again(api_client: client.ApiClient, operator: conftest.Operator) -> None:
    waiting.wait_for(lambda: "leading now" in operator.log(), what="the operator to lead")
    (trusted,) = _bundles(api_client)
    admission = client.AdmissionregistrationV1Api(api_client)
    live = admission.read_mutating_webhook_configuration(conftest.WEBHOOK_CONFIG)
    other = base64.b64encode(certs.issue(["elsewhere.example"], datetime.timedelta(hours=1)).ca_pem).decode()
    for hook in live.webhooks:
        hook.client_config.ca_bundle = other
    admission.replace_mutating_webhook_configuration(conftest.WEBHOOK_CONFIG, live)
    assert _bundles(api_client) == {other}

    waiting.wait_for(lambda: _bundles(api_client) == {trusted}, what="the leader to restore its caBundle")

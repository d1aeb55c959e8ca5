"""The operator's other cluster-wide writes, narrowed to what it owns. Impersonating its
ServiceAccount (``manifests/rbac.yaml`` and the admission policies really applied): it may
register its webhook configuration ``stigg-sidecar-injector`` (as ``webhookconfig.body`` builds
it), but under no other name (RBAC cannot restrict a create by name) and with no webhook on other
resources or operations; it may patch a StiggEntitlements' annotations (kopf's) and status, never
its spec (which names the Secret and image a sidecar uses); it may apply Standalone mode's
Service as rendered, owned by a StiggEntitlements, but not a Service it does not own, nor a
NodePort one. All dry runs."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from stigg_operator import keys, reconcile, settings, standalone, webhookconfig
from stigg_operator.kube import rest
from tests.integration.operator import conftest, least_privilege

DRY_RUN = [("dryRun", "All")]


@pytest.fixture
def owner_uid(api_client: client.ApiClient, namespace: str) -> Iterator[str]:
    with least_privilege.owner(api_client, namespace) as uid:
        yield uid


def _webhook_configuration(name: str) -> dict[str, Any]:
    operator_settings = settings.Settings.from_env({"STIGG_OPERATOR_NAMESPACE": conftest.OPERATOR_NAMESPACE})
    body = webhookconfig.body(operator_settings, b"-----BEGIN CERTIFICATE-----")
    body["metadata"]["name"] = name
    return body


def test_only_its_own_webhook_configuration_on_pod_creation(operator_identity: client.ApiClient) -> None:
    admission = client.AdmissionregistrationV1Api(operator_identity)
    own = _webhook_configuration(conftest.WEBHOOK_CONFIG)
    admission.create_mutating_webhook_configuration(own, dry_run="All")  # admitted

    status, message = conftest.refusal(
        lambda: admission.create_mutating_webhook_configuration(_webhook_configuration("evil"), dry_run="All")
    )
    assert status == 403, message
    assert "registers only the MutatingWebhookConfiguration stigg-sidecar-injector, not evil" in message

    broader = copy.deepcopy(own)
    broader["webhooks"][0]["rules"][0].update(
        resources=["*"], operations=["CREATE", "UPDATE"], apiGroups=["*"]
    )
    status, message = conftest.refusal(
        lambda: admission.create_mutating_webhook_configuration(broader, dry_run="All")
    )
    assert status == 403, message
    assert "webhooks are called on Pod CREATE only" in message, message


def test_a_stiggentitlements_spec_is_not_its_to_change(
    operator_identity: client.ApiClient, namespace: str, owner_uid: str
) -> None:
    path = f"/apis/{keys.GROUP}/{keys.VERSION}/namespaces/{namespace}/{keys.PLURAL}/shop"
    merge = {"Content-Type": "application/merge-patch+json"}

    def patch(body: dict[str, Any], subresource: str = "") -> Any:
        return rest._call(
            operator_identity, "PATCH", path + subresource, query_params=DRY_RUN, headers=merge, body=body
        )

    patch({"metadata": {"annotations": {"kopf.zalando.org/last-handled-configuration": "{}"}}})  # kopf's
    patch({"status": {"observedGeneration": 1}}, "/status")
    status, message = conftest.refusal(
        lambda: patch({"spec": {"apiKeySecretRef": {"name": "someone-elses"}}})
    )
    assert status == 403, message
    assert f"may not change the spec of StiggEntitlements {namespace}/shop" in message, message


def test_only_the_services_it_owns(
    operator_identity: client.ApiClient, namespace: str, owner_uid: str
) -> None:
    service = standalone.service(least_privilege.effective(namespace))
    service["metadata"]["ownerReferences"] = [reconcile.owner_reference("shop", owner_uid)]
    least_privilege.apply(operator_identity, service, dry_run=True)  # as Standalone mode applies it

    node_port = copy.deepcopy(service)
    node_port["spec"]["type"] = "NodePort"
    status, message = conftest.refusal(
        lambda: least_privilege.apply(operator_identity, node_port, dry_run=True)
    )
    assert status == 403, message
    assert "Services are ClusterIP, with no externalIPs" in message, message

    theirs = copy.deepcopy(service)
    del theirs["metadata"]["ownerReferences"]
    status, message = conftest.refusal(lambda: least_privilege.apply(operator_identity, theirs, dry_run=True))
    assert status == 403, message
    assert "may write only the Services a StiggEntitlements owns" in message, message

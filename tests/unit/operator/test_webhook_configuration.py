"""The MutatingWebhookConfiguration selects opted-in Pods on the apiserver side, CREATE only."""

from __future__ import annotations

import base64

from stigg_operator import keys, settings, webhookconfig


def test_two_webhooks_cover_namespace_or_pod_opt_in_and_exclude_system() -> None:
    config = settings.Settings(namespace="stigg-system", webhook_url="https://127.0.0.1:9443")
    body = webhookconfig.body(config, b"CA")
    by_namespace, by_pod = body["webhooks"]
    for webhook in (by_namespace, by_pod):
        assert webhook["clientConfig"] == {
            "url": "https://127.0.0.1:9443/inject",
            "caBundle": base64.b64encode(b"CA").decode(),
        }
        assert webhook["rules"][0]["operations"] == ["CREATE"]
        assert webhook["reinvocationPolicy"] == "Never"
        excluded = webhook["namespaceSelector"]["matchExpressions"][1]
        assert excluded["operator"] == "NotIn"
        assert set(excluded["values"]) == {"kube-system", "kube-public", "kube-node-lease", "stigg-system"}
    assert by_namespace["namespaceSelector"]["matchExpressions"][0] == {
        "key": keys.NAMESPACE_INJECTION_LABEL,
        "operator": "In",
        "values": ["enabled"],
    }
    assert by_namespace["objectSelector"]["matchExpressions"] == [
        {"key": keys.POD_INJECT_LABEL, "operator": "NotIn", "values": ["false"]}
    ]
    assert by_pod["namespaceSelector"]["matchExpressions"][0]["operator"] == "NotIn", "never sent twice"
    assert by_pod["objectSelector"]["matchExpressions"] == [
        {"key": keys.POD_INJECT_LABEL, "operator": "In", "values": ["true"]}
    ]


def test_in_cluster_service_reference() -> None:
    config = settings.Settings(namespace="ops", webhook_service="stigg-operator", failure_policy="Ignore")
    webhook = webhookconfig.body(config, b"CA")["webhooks"][0]
    assert webhook["clientConfig"]["service"] == {
        "namespace": "ops",
        "name": "stigg-operator",
        "path": "/inject",
        "port": 443,
    }
    assert webhook["failurePolicy"] == "Ignore"

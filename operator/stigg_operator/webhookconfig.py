"""The MutatingWebhookConfiguration the operator registers (pure: settings + CA → body).

Selection happens on the apiserver side, so Pods that are not opted in never reach the webhook
(and never depend on it being up). Two webhooks share one endpoint, because one webhook cannot
say "namespace labelled OR Pod labelled":

* ``namespaces.sidecar.stigg.io``: namespaces labelled ``sidecar.stigg.io/injection=enabled``,
  except Pods labelled ``sidecar.stigg.io/inject=false``;
* ``pods.sidecar.stigg.io``: Pods labelled ``sidecar.stigg.io/inject=true`` in namespaces that
  are *not* so labelled (so no Pod is sent twice).

Both exclude kube-system, kube-public, kube-node-lease and the operator's own namespace, act on
CREATE only (never on UPDATE: no re-mutation), and are never reinvoked.
"""

from __future__ import annotations

import base64
from typing import Any

from stigg_operator import keys, settings

WEBHOOK_PATH = "/inject"


def client_config(config: settings.Settings, ca_pem: bytes) -> dict[str, Any]:
    bundle = base64.b64encode(ca_pem).decode()
    if config.webhook_url:
        return {"url": f"{config.webhook_url}{WEBHOOK_PATH}", "caBundle": bundle}
    return {
        "service": {
            "namespace": config.namespace,
            "name": config.webhook_service,
            "path": WEBHOOK_PATH,
            "port": 443,
        },
        "caBundle": bundle,
    }


def body(config: settings.Settings, ca_pem: bytes) -> dict[str, Any]:
    excluded = sorted(keys.SYSTEM_NAMESPACES | {config.namespace})
    not_system = {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": excluded}

    def webhook(name: str, namespace_in: bool) -> dict[str, Any]:
        namespace_rule = {
            "key": keys.NAMESPACE_INJECTION_LABEL,
            "operator": "In" if namespace_in else "NotIn",
            "values": ["enabled"],
        }
        object_rule = (
            {"key": keys.POD_INJECT_LABEL, "operator": "NotIn", "values": ["false"]}
            if namespace_in
            else {"key": keys.POD_INJECT_LABEL, "operator": "In", "values": ["true"]}
        )
        return {
            "name": name,
            "clientConfig": client_config(config, ca_pem),
            "rules": [
                {
                    "apiGroups": [""],
                    "apiVersions": ["v1"],
                    "operations": ["CREATE"],
                    "resources": ["pods"],
                    "scope": "Namespaced",
                }
            ],
            "namespaceSelector": {"matchExpressions": [namespace_rule, not_system]},
            "objectSelector": {"matchExpressions": [object_rule]},
            "admissionReviewVersions": ["v1"],
            "sideEffects": "None",
            "failurePolicy": config.failure_policy,
            "matchPolicy": "Equivalent",
            "reinvocationPolicy": "Never",
            "timeoutSeconds": 5,
        }

    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {
            "name": config.webhook_config_name,
            "labels": {"app.kubernetes.io/managed-by": "stigg-operator"},
        },
        "webhooks": [
            webhook("namespaces.sidecar.stigg.io", namespace_in=True),
            webhook("pods.sidecar.stigg.io", namespace_in=False),
        ],
    }

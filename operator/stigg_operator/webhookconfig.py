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

**failurePolicy per namespace.** A webhook has one ``failurePolicy``, but a namespace can be
matched by name (``kubernetes.io/metadata.name``, a label the apiserver sets on every
namespace), so a resource's ``spec.injection.failurePolicy`` is honoured per namespace:
``failure_policies`` computes the policy of every namespace with a resource (``Fail`` if any of
its resources, cluster-default merged in, says ``Fail``, else ``Ignore``: a webhook cannot tell
which resource a Pod will use) against the default (cluster-default's, else the operator's
``STIGG_OPERATOR_FAILURE_POLICY``), and ``body`` adds, for the namespaces that differ, a second
pair of webhooks (``…-ignore`` or ``…-fail``) matching exactly those names, which the first pair
excludes. The refresh task rewrites the configuration when the policies change.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Mapping
from typing import Any

from stigg_operator import keys, model, settings

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


NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
POLICIES = ("Fail", "Ignore")


@dataclasses.dataclass(frozen=True)
class FailurePolicies:
    """The webhook's ``failurePolicy`` for every namespace: ``default``, but ``exceptions``."""

    default: str
    exceptions: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def of(self, namespace: str) -> str:
        return self.exceptions.get(namespace, self.default)


def failure_policies(
    operator_namespace: str, operator_default: str, resources: model.Resources
) -> FailurePolicies:
    """Each namespace's policy, from the resources (``model.Resources``, cluster-default merged in)."""

    def policy_of(key: model.ResourceKey, entries: Any) -> str:
        spec = model.inherited_spec(operator_namespace, key, next(iter(entries))["spec"], resources)
        chosen = str((spec.get("injection") or {}).get("failurePolicy") or operator_default)
        return chosen if chosen in POLICIES else operator_default

    default_key = model.cluster_default_key(operator_namespace)
    default = (
        policy_of(default_key, resources[default_key]) if resources.get(default_key) else operator_default
    )
    by_namespace: dict[str, set[str]] = {}
    for key, entries in resources.items():
        if key != default_key and entries:
            by_namespace.setdefault(key[0], set()).add(policy_of(key, entries))
    chosen = {ns: "Fail" if "Fail" in found else "Ignore" for ns, found in by_namespace.items()}
    return FailurePolicies(
        default, {ns: policy for ns, policy in sorted(chosen.items()) if policy != default}
    )


def body(config: settings.Settings, ca_pem: bytes, policies: FailurePolicies | None = None) -> dict[str, Any]:
    policies = policies or FailurePolicies(config.failure_policy)
    excluded = sorted(keys.SYSTEM_NAMESPACES | {config.namespace})
    not_system = {"key": NAMESPACE_NAME_LABEL, "operator": "NotIn", "values": excluded}
    names_out = {"key": NAMESPACE_NAME_LABEL, "operator": "NotIn", "values": sorted(policies.exceptions)}
    other = next(p for p in POLICIES if p != policies.default)
    names_in = {"key": NAMESPACE_NAME_LABEL, "operator": "In", "values": sorted(policies.exceptions)}

    def by_name(policy: str) -> list[dict[str, Any]]:
        """The default pair leaves the exceptions out; the other pair takes only them."""
        if not policies.exceptions:
            return []
        return [names_out] if policy == policies.default else [names_in]

    def webhook(name: str, namespace_in: bool, policy: str = policies.default) -> dict[str, Any]:
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
            "namespaceSelector": {"matchExpressions": [namespace_rule, not_system, *by_name(policy)]},
            "objectSelector": {"matchExpressions": [object_rule]},
            "admissionReviewVersions": ["v1"],
            "sideEffects": "None",
            "failurePolicy": policy,
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
            *(
                [
                    webhook(f"namespaces-{other.lower()}.sidecar.stigg.io", namespace_in=True, policy=other),
                    webhook(f"pods-{other.lower()}.sidecar.stigg.io", namespace_in=False, policy=other),
                ]
                if policies.exceptions
                else []
            ),
        ],
    }

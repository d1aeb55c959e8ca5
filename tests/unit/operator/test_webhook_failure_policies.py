"""Each namespace's webhook failurePolicy, from the resources: the default is cluster-default's
(else the operator's setting); a namespace whose resources all say otherwise is an exception
(one saying Fail keeps it Fail: a webhook cannot tell which resource a Pod will use); the
exceptions get a second pair of webhooks matching their names, which the first pair excludes.
Pure: the configuration body, no apiserver."""

from __future__ import annotations

from typing import Any

from stigg_operator import keys, settings, webhookconfig

OPERATOR_NS = "stigg-system"
KEY = {"apiKeySecretRef": {"name": "k"}}


def _index(resources: dict[tuple[str, str], dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    return {key: [{"spec": spec}] for key, spec in resources.items()}


def _policy(value: str) -> dict[str, Any]:
    return {**KEY, "injection": {"failurePolicy": value}}


def test_without_resources_the_operator_setting_is_the_default() -> None:
    policies = webhookconfig.failure_policies(OPERATOR_NS, "Ignore", {})
    assert policies == webhookconfig.FailurePolicies("Ignore")
    assert policies.of("anywhere") == "Ignore"


def test_a_namespace_that_differs_is_an_exception() -> None:
    index = _index({("shop", "a"): _policy("Ignore"), ("billing", "b"): KEY})
    policies = webhookconfig.failure_policies(OPERATOR_NS, "Fail", index)
    assert policies == webhookconfig.FailurePolicies("Fail", {"shop": "Ignore"})


def test_cluster_default_sets_the_default_and_is_inherited() -> None:
    index = _index({(OPERATOR_NS, keys.CLUSTER_DEFAULT_NAME): _policy("Ignore"), ("shop", "a"): KEY,
                    ("billing", "b"): _policy("Fail")})  # fmt: skip
    policies = webhookconfig.failure_policies(OPERATOR_NS, "Fail", index)
    assert policies == webhookconfig.FailurePolicies("Ignore", {"billing": "Fail"})


def test_one_resource_saying_fail_keeps_its_namespace_fail() -> None:
    index = _index({("shop", "a"): _policy("Ignore"), ("shop", "b"): _policy("Fail")})
    assert webhookconfig.failure_policies(OPERATOR_NS, "Fail", index).exceptions == {}


def test_the_exceptions_get_their_own_pair_matched_by_name() -> None:
    config = settings.Settings(namespace=OPERATOR_NS, webhook_url="https://127.0.0.1:9443")
    policies = webhookconfig.FailurePolicies("Fail", {"shop": "Ignore", "api": "Ignore"})
    hooks = {hook["name"]: hook for hook in webhookconfig.body(config, b"CA", policies)["webhooks"]}
    assert set(hooks) == {
        "namespaces.sidecar.stigg.io", "pods.sidecar.stigg.io",
        "namespaces-ignore.sidecar.stigg.io", "pods-ignore.sidecar.stigg.io",
    }  # fmt: skip
    names = {"key": webhookconfig.NAMESPACE_NAME_LABEL, "values": ["api", "shop"]}
    for name in ("namespaces", "pods"):
        default, other = hooks[f"{name}.sidecar.stigg.io"], hooks[f"{name}-ignore.sidecar.stigg.io"]
        assert default["failurePolicy"] == "Fail"
        assert other["failurePolicy"] == "Ignore"
        assert default["namespaceSelector"]["matchExpressions"][-1] == {**names, "operator": "NotIn"}
        assert other["namespaceSelector"]["matchExpressions"][-1] == {**names, "operator": "In"}
        assert other["objectSelector"] == default["objectSelector"]


def test_no_exceptions_no_extra_pair() -> None:
    config = settings.Settings(namespace=OPERATOR_NS, webhook_url="https://127.0.0.1:9443")
    hooks = webhookconfig.body(config, b"CA", webhookconfig.FailurePolicies("Ignore"))["webhooks"]
    assert [hook["failurePolicy"] for hook in hooks] == ["Ignore", "Ignore"]
    assert all(len(hook["namespaceSelector"]["matchExpressions"]) == 2 for hook in hooks)

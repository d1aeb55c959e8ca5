"""``spec.injection.failurePolicy`` does what it says, on the real apiserver: the operator
registers the namespaces whose policy differs from the default in a second pair of webhooks
matched by namespace name, reports the policy in each resource's status, and with the operator
gone the apiserver admits the Ignore namespace's Pods without the sidecar while it refuses the
Fail namespace's. Switching the resource back removes the extra pair."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from stigg_devkit import waiting
from stigg_operator import keys, webhookconfig
from tests.integration.operator import conftest

IGNORE_WEBHOOKS = {"namespaces-ignore.sidecar.stigg.io", "pods-ignore.sidecar.stigg.io"}


def _namespace(core: client.CoreV1Api, name: str) -> None:
    conftest.ensure_namespace(core, name)
    core.patch_namespace(name, {"metadata": {"labels": {keys.NAMESPACE_INJECTION_LABEL: "enabled"}}})


def _webhooks(api: client.ApiClient) -> dict[str, Any]:
    live = client.AdmissionregistrationV1Api(api).read_mutating_webhook_configuration(conftest.WEBHOOK_CONFIG)
    return {hook.name: api.sanitize_for_serialization(hook) for hook in live.webhooks}


def _by_name(hook: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        e
        for e in hook["namespaceSelector"]["matchExpressions"]
        if e["key"] == webhookconfig.NAMESPACE_NAME_LABEL
    ]


def _pod(name: str) -> client.V1Pod:
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1PodSpec(containers=[client.V1Container(name="app", image="example/app:1")]),
    )


def _init_names(pod: Any) -> list[str]:
    return [c.name for c in pod.spec.init_containers or []]


@pytest.fixture
def two_namespaces(api_client: client.ApiClient, namespace: str) -> Any:
    core = client.CoreV1Api(api_client)
    lenient, strict = f"{namespace}-ignore", f"{namespace}-fail"
    custom = client.CustomObjectsApi(api_client)
    for name, spec in ((lenient, {"injection": {"failurePolicy": "Ignore"}}), (strict, {})):
        _namespace(core, name)
        conftest.make_secret(api_client, name)
        custom.create_namespaced_custom_object(
            keys.GROUP, keys.VERSION, name, keys.PLURAL,
            conftest.make_resource("shop", {**conftest.INJECTION_SPEC, **spec}),
        )  # fmt: skip
    try:
        yield lenient, strict
    finally:
        for name in (lenient, strict):
            core.delete_namespace(name)


def test_the_policy_is_registered_per_namespace_and_honoured_by_the_apiserver(
    api_client: client.ApiClient, operator: conftest.Operator, two_namespaces: tuple[str, str]
) -> None:
    lenient, strict = two_namespaces
    hooks = waiting.wait_for(
        lambda: (found := _webhooks(api_client)).keys() >= IGNORE_WEBHOOKS and found,
        what="the Ignore pair of webhooks",
        timeout=60,
    )
    for name in IGNORE_WEBHOOKS:
        assert hooks[name]["failurePolicy"] == "Ignore"
        assert _by_name(hooks[name])[-1] == {
            "key": webhookconfig.NAMESPACE_NAME_LABEL, "operator": "In", "values": [lenient],
        }  # fmt: skip
    for name in ("namespaces.sidecar.stigg.io", "pods.sidecar.stigg.io"):
        assert hooks[name]["failurePolicy"] == "Fail"
        assert lenient in _by_name(hooks[name])[-1]["values"]  # NotIn: left to the Ignore pair
        assert _by_name(hooks[name])[-1]["operator"] == "NotIn"
    for name, policy in ((lenient, "Ignore"), (strict, "Fail")):
        waiting.wait_for(
            lambda name=name, policy=policy: (
                conftest.resource_status(api_client, name, "shop").get("failurePolicy") == policy
            ),
            what=f"status.failurePolicy {policy} in {name}",
        )

    core = client.CoreV1Api(api_client)
    assert _init_names(core.create_namespaced_pod(lenient, _pod("served"))) == [keys.SIDECAR_CONTAINER]

    operator.stop()  # the webhook configuration stays; nothing answers it now
    admitted = core.create_namespaced_pod(lenient, _pod("unserved"))
    assert _init_names(admitted) == []  # Ignore: admitted without the sidecar
    with pytest.raises(client.ApiException) as refused:
        core.create_namespaced_pod(strict, _pod("refused"))
    assert "failed calling webhook" in str(refused.value.body)
    assert "namespaces.sidecar.stigg.io" in str(refused.value.body)


def test_switching_back_to_fail_removes_the_extra_pair(
    api_client: client.ApiClient, operator: conftest.Operator, two_namespaces: tuple[str, str]
) -> None:
    if operator.process is not None and operator.process.poll() is not None:
        operator.start(api_client)  # the test before stopped it
    lenient, _ = two_namespaces
    waiting.wait_for(
        lambda: _webhooks(api_client).keys() >= IGNORE_WEBHOOKS, what="the Ignore pair", timeout=60
    )
    client.CustomObjectsApi(api_client).patch_namespaced_custom_object(
        keys.GROUP,
        keys.VERSION,
        lenient,
        keys.PLURAL,
        "shop",
        {"spec": {"injection": {"failurePolicy": "Fail"}}},
    )
    hooks = waiting.wait_for(
        lambda: not ((found := _webhooks(api_client)).keys() & IGNORE_WEBHOOKS) and found,
        what="the Ignore pair to go",
        timeout=60,
    )
    assert set(hooks) == {"namespaces.sidecar.stigg.io", "pods.sidecar.stigg.io"}
    assert all(not _by_name(hook)[1:] for hook in hooks.values())  # only the system exclusion

"""A status that never lies, on the real apiserver: a spec that would get every mutated Pod
refused is Ready=False naming the field (and the webhook denies with the same words), defaults
over a ConfigMap's 1 MiB are Ready=False naming spec.defaults, and defaults over the env budget
keep the resource Ready but stay out of the injected env (DefaultsInEnv=False)."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from stigg_devkit import waiting
from stigg_operator import keys, limits
from tests.integration.operator import conftest


def _defaults(features: int, values: int) -> dict[str, Any]:
    return {
        f"feature-{i:04d}": {
            "hasAccess": True,
            "enumValues": [f"value-{i:04d}-{j:02d}" for j in range(values)],
        }
        for i in range(features)
    }


def _create(api: client.ApiClient, namespace: str, name: str, spec: dict[str, Any]) -> None:
    client.CustomObjectsApi(api).create_namespaced_custom_object(
        keys.GROUP, keys.VERSION, namespace, keys.PLURAL, conftest.make_resource(name, spec)
    )


def _wait_condition(
    api: client.ApiClient, namespace: str, name: str, kind: str, value: str
) -> dict[str, Any]:
    found: dict[str, Any] = waiting.wait_for(
        lambda: (
            (c := conftest.condition(conftest.resource_status(api, namespace, name), kind))
            and c["status"] == value
            and c
        ),
        what=f"{kind}={value} on {namespace}/{name}",
    )
    return found


def _pod() -> client.V1Pod:
    return client.V1Pod(
        metadata=client.V1ObjectMeta(generate_name="app-", labels={keys.POD_INJECT_LABEL: "true"}),
        spec=client.V1PodSpec(containers=[client.V1Container(name="app", image="example/app:1")]),
    )


def _try_create(core: client.CoreV1Api, namespace: str) -> client.V1Pod | None:
    try:
        return core.create_namespaced_pod(namespace, _pod())
    except client.ApiException as error:
        if "no StiggEntitlements" in str(error.body):  # the webhook's index not filled yet
            return None
        raise


@pytest.mark.usefixtures("operator")
def test_a_negative_quantity_is_ready_false_and_a_clear_denial(
    api_client: client.ApiClient, namespace: str
) -> None:
    _create(
        api_client,
        namespace,
        "shop",
        {"offline": True, "sidecar": {"resources": {"requests": {"cpu": "-100m"}}}},
    )
    ready = _wait_condition(api_client, namespace, "shop", "Ready", "False")
    assert ready["reason"] == "InvalidSpec"
    assert ready["message"] == 'spec.sidecar.resources.requests.cpu: "-100m" is negative'
    degraded = conftest.condition(conftest.resource_status(api_client, namespace, "shop"), "Degraded")
    assert degraded is not None
    assert degraded["status"] == "True"

    core = client.CoreV1Api(api_client)
    with pytest.raises(client.ApiException) as raised:
        waiting.wait_for(lambda: _try_create(core, namespace), what="the webhook to know shop")
    assert raised.value.status == 400
    assert 'spec.sidecar.resources.requests.cpu: \\"-100m\\" is negative' in str(raised.value.body)


@pytest.mark.usefixtures("operator")
def test_defaults_over_the_env_budget_stay_out_of_injected_pods(
    api_client: client.ApiClient, namespace: str
) -> None:
    defaults = _defaults(1000, 10)  # schema-valid; 159 KB as the old ENTITLEMENTS_FALLBACK
    _create(api_client, namespace, "shop", {"offline": True, "defaults": defaults})
    conftest.wait_ready(api_client, namespace, "shop")
    note = _wait_condition(api_client, namespace, "shop", "DefaultsInEnv", "False")
    assert note["reason"] == "OverEnvBudget"
    assert note["message"].startswith("spec.defaults: ")

    pod = waiting.wait_for(
        lambda: _try_create(client.CoreV1Api(api_client), namespace), what="an injected Pod"
    )
    sidecar = next(c for c in pod.spec.init_containers if c.name == keys.SIDECAR_CONTAINER)
    env = {e.name: e.value or "" for e in sidecar.env}
    assert limits.ENV_DEFAULTS_VAR not in env
    assert max(len(f"{k}={v}".encode()) for k, v in env.items()) < limits.ENV_DEFAULTS_BUDGET
    volume = next(v for v in pod.spec.volumes if v.name == keys.DEFAULTS_VOLUME)
    configmap = client.CoreV1Api(api_client).read_namespaced_config_map(volume.config_map.name, namespace)
    assert "feature-0999" in configmap.data[keys.DEFAULTS_FILE]  # the ConfigMap carries them


@pytest.mark.usefixtures("operator")
def test_defaults_over_a_configmaps_mebibyte_are_ready_false(
    api_client: client.ApiClient, namespace: str
) -> None:
    _create(api_client, namespace, "shop", {"offline": True, "defaults": _defaults(1000, 60)})
    ready = _wait_condition(api_client, namespace, "shop", "Ready", "False")
    assert ready["reason"] == "InvalidSpec"
    assert ready["message"].startswith("spec.defaults: the rendered ConfigMap's data is ")
    assert "1048576 (1 MiB)" in ready["message"]

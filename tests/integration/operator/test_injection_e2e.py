"""Injection through the real apiserver: it calls the operator's webhook over TLS when the real
controller-manager creates a Deployment's Pods; opted-out Pods, unlabelled namespaces and system
namespaces are untouched; bad annotations and missing configuration are denied with a reason."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import client

from stigg_devkit import waiting
from stigg_operator import keys
from tests.integration.operator import conftest


def _pod(name: str, labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None) -> Any:
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels=labels, annotations=annotations),
        spec=client.V1PodSpec(
            containers=[
                client.V1Container(
                    name="app",
                    image="example/app:1",
                    env=[client.V1EnvVar(name=keys.APP_PORT_ENV, value="9999")],
                )
            ]
        ),
    )


def _sidecar(pod: Any) -> Any:
    return next((c for c in pod.spec.init_containers or [] if c.name == keys.SIDECAR_CONTAINER), None)


def test_deployment_pods_are_injected(
    api_client: client.ApiClient, namespace: str, operator: conftest.Operator
) -> None:
    conftest.setup_namespace(api_client, namespace)
    apps, core = client.AppsV1Api(api_client), client.CoreV1Api(api_client)
    labels = {"app": "web"}
    apps.create_namespaced_deployment(
        namespace,
        client.V1Deployment(
            metadata=client.V1ObjectMeta(name="web"),
            spec=client.V1DeploymentSpec(
                replicas=2,
                selector=client.V1LabelSelector(match_labels=labels),
                template=client.V1PodTemplateSpec(
                    metadata=client.V1ObjectMeta(labels=labels),
                    spec=client.V1PodSpec(containers=[client.V1Container(name="app", image="example/app:1")]),
                ),
            ),
        ),
    )
    pods = waiting.wait_for(
        lambda: (items := core.list_namespaced_pod(namespace).items) and len(items) == 2 and items,
        what="the controller-manager's Pods",
    )
    for pod in pods:
        assert pod.metadata.owner_references[0].kind == "ReplicaSet"
        sidecar = _sidecar(pod)
        assert sidecar is not None, "the Pod must carry the sidecar"
        assert pod.spec.init_containers[0].name == keys.SIDECAR_CONTAINER
        assert sidecar.restart_policy == "Always"
        assert sidecar.image == conftest.TEST_IMAGE
        env = {e.name: e for e in sidecar.env}
        assert env["SERVER_API_KEY"].value is None
        assert env["SERVER_API_KEY"].value_from.secret_key_ref.name == "stigg-api-key"
        assert sidecar.startup_probe.http_get.path == "/readyz"
        mount = next(m for m in sidecar.volume_mounts if m.name == keys.DEFAULTS_VOLUME)
        assert mount.sub_path is None
        volume = next(v for v in pod.spec.volumes if v.name == keys.DEFAULTS_VOLUME)
        assert volume.config_map.name == keys.configmap_name("shop")
        app_env = {e.name: e.value for e in pod.spec.containers[0].env}
        assert app_env[keys.APP_HOST_ENV] == "localhost"
        assert pod.metadata.annotations[keys.INJECTED_ANNOTATION].startswith(f"{namespace}/shop@")
        assert pod.metadata.labels[keys.INJECTED_LABEL] == "true"
        assert "sk-test-secret" not in json.dumps(api_client.sanitize_for_serialization(pod))
    waiting.wait_for(
        lambda: conftest.resource_status(api_client, namespace, "shop").get("injectedPods") == 2,
        what="status.injectedPods to count the 2 Pods",
    )


def test_user_env_is_kept_and_opt_out_is_honoured(
    api_client: client.ApiClient, namespace: str, operator: conftest.Operator
) -> None:
    conftest.setup_namespace(api_client, namespace)
    core = client.CoreV1Api(api_client)
    injected = core.create_namespaced_pod(namespace, _pod("injected"))
    assert _sidecar(injected) is not None
    assert {e.name: e.value for e in injected.spec.containers[0].env}[keys.APP_PORT_ENV] == "9999"

    opted_out = core.create_namespaced_pod(
        namespace, _pod("opted-out", labels={keys.POD_INJECT_LABEL: "false"})
    )
    assert _sidecar(opted_out) is None
    assert keys.INJECTED_ANNOTATION not in (opted_out.metadata.annotations or {})


def test_unlabelled_and_system_namespaces_are_untouched(
    api_client: client.ApiClient, namespace: str, operator: conftest.Operator
) -> None:
    conftest.setup_namespace(api_client, namespace, label=False)
    core = client.CoreV1Api(api_client)
    plain = core.create_namespaced_pod(namespace, _pod("plain"))
    assert _sidecar(plain) is None
    # A Pod label opts a Pod in even without the namespace label...
    opted_in = core.create_namespaced_pod(namespace, _pod("opted-in", labels={keys.POD_INJECT_LABEL: "true"}))
    assert _sidecar(opted_in) is not None
    # ...but never in a system namespace.
    system = core.create_namespaced_pod(
        "kube-system", _pod(f"{namespace}-sys", labels={keys.POD_INJECT_LABEL: "true"})
    )
    try:
        assert _sidecar(system) is None
    finally:
        core.delete_namespaced_pod(system.metadata.name, "kube-system")


def test_already_injected_pod_is_unchanged(
    api_client: client.ApiClient, namespace: str, operator: conftest.Operator
) -> None:
    conftest.setup_namespace(api_client, namespace)
    core = client.CoreV1Api(api_client)
    first = core.create_namespaced_pod(namespace, _pod("first"))
    manifest = api_client.sanitize_for_serialization(first)
    for field in ("uid", "resourceVersion", "creationTimestamp", "managedFields", "generation"):
        manifest["metadata"].pop(field, None)
    manifest["metadata"]["name"] = "second"
    manifest.pop("status", None)
    # Drop what admission added besides our injection, so that only our part is "already there".
    manifest["spec"]["volumes"] = [
        v for v in manifest["spec"]["volumes"] if not v["name"].startswith("kube-api-access")
    ]
    for container in manifest["spec"]["containers"] + manifest["spec"].get("initContainers", []):
        container["volumeMounts"] = [
            m for m in container.get("volumeMounts", []) if not m["name"].startswith("kube-api-access")
        ]
    second = core.create_namespaced_pod(namespace, manifest)
    assert [c.name for c in second.spec.init_containers] == [keys.SIDECAR_CONTAINER]
    assert (
        second.metadata.annotations[keys.INJECTED_ANNOTATION]
        == first.metadata.annotations[keys.INJECTED_ANNOTATION]
    )
    assert len([e for e in second.spec.containers[0].env if e.name == keys.APP_HOST_ENV]) == 1


@pytest.mark.parametrize(
    ("annotation", "value", "problem"),
    [
        (keys.LOG_LEVEL_ANNOTATION, "loud", "must be one of"),
        (keys.CPU_REQUEST_ANNOTATION, "lots", "quantity"),
        (keys.CONFIG_ANNOTATION, "no-such-config", "no StiggEntitlements"),
    ],
)
def test_bad_annotation_is_denied_with_reason(
    api_client: client.ApiClient,
    namespace: str,
    operator: conftest.Operator,
    annotation: str,
    value: str,
    problem: str,
) -> None:
    conftest.setup_namespace(api_client, namespace)
    with pytest.raises(client.ApiException) as raised:
        client.CoreV1Api(api_client).create_namespaced_pod(
            namespace, _pod("bad", annotations={annotation: value})
        )
    message = json.loads(raised.value.body)["message"]
    assert annotation in message
    assert problem in message


def test_opted_in_namespace_without_configuration_is_denied(
    api_client: client.ApiClient, namespace: str, operator: conftest.Operator
) -> None:
    client.CoreV1Api(api_client).patch_namespace(
        namespace, {"metadata": {"labels": {keys.NAMESPACE_INJECTION_LABEL: "enabled"}}}
    )
    with pytest.raises(client.ApiException) as raised:
        client.CoreV1Api(api_client).create_namespaced_pod(namespace, _pod("lonely"))
    message = json.loads(raised.value.body)["message"]
    assert f"no StiggEntitlements in namespace {namespace}" in message

"""A missing Secret is reported from the injected Pods, not by reading Secrets (the operator's
RBAC has no ``get secrets``): on the real apiserver, a resource whose API key Secret does not
exist is Ready with ``SecretsVerified=False`` (``Unverified``, naming the Secret) while no Pod
runs; once an injected Pod's sidecar is held by the kubelet in ``CreateContainerConfigError``
(reported here as the kubelet would: there is no kubelet in this module; the node suite's
``test_missing_secret`` has a real one) it is ``Ready=False``, ``SecretNotFound``, naming the
Secret and the Pod; and once the sidecar runs, Ready again with ``SecretsVerified=True``."""

from __future__ import annotations

from typing import Any

from kubernetes import client

from stigg_devkit import waiting
from stigg_operator import keys
from tests.integration.operator import conftest

SECRET = "not-yet"


def _conditions(api: client.ApiClient, namespace: str) -> dict[str, dict[str, Any]]:
    status = conftest.resource_status(api, namespace, "shop")
    return {c["type"]: c for c in status.get("conditions") or []}


def _report_sidecar(core: client.CoreV1Api, namespace: str, pod: str, state: dict[str, Any]) -> None:
    """The sidecar's state in the Pod's status, as the kubelet reports it."""
    core.patch_namespaced_pod_status(
        pod,
        namespace,
        {
            "status": {
                "initContainerStatuses": [
                    {
                        "name": keys.SIDECAR_CONTAINER,
                        "image": conftest.TEST_IMAGE,
                        "imageID": "",
                        "ready": False,
                        "restartCount": 0,
                        "started": "running" in state,
                        "state": state,
                    }
                ]
            }
        },
    )


def test_a_missing_secret_is_unverified_then_reported_from_the_pods_then_verified(
    api_client: client.ApiClient, namespace: str, operator: conftest.Operator
) -> None:
    core = client.CoreV1Api(api_client)
    core.patch_namespace(namespace, {"metadata": {"labels": {keys.NAMESPACE_INJECTION_LABEL: "enabled"}}})
    client.CustomObjectsApi(api_client).create_namespaced_custom_object(
        keys.GROUP, keys.VERSION, namespace, keys.PLURAL,
        conftest.make_resource("shop", {"apiKeySecretRef": {"name": SECRET}}),
    )  # fmt: skip

    # No Pod yet: the operator cannot know, and says so; the resource is usable.
    verified = waiting.wait_for(
        lambda: _conditions(api_client, namespace).get("SecretsVerified"), what="a SecretsVerified condition"
    )
    assert (verified["status"], verified["reason"]) == ("False", "Unverified"), verified
    assert verified["message"].startswith(f"Secret {SECRET} (key SERVER_API_KEY) unverified"), verified
    assert _conditions(api_client, namespace)["Ready"]["status"] == "True"

    pod = core.create_namespaced_pod(
        namespace,
        client.V1Pod(
            metadata=client.V1ObjectMeta(name="web"),
            spec=client.V1PodSpec(containers=[client.V1Container(name="app", image="example/app:1")]),
        ),
    )
    assert [c.name for c in pod.spec.init_containers] == [keys.SIDECAR_CONTAINER]
    message = f'secret "{SECRET}" not found'
    _report_sidecar(
        core, namespace, "web", {"waiting": {"reason": "CreateContainerConfigError", "message": message}}
    )
    ready = waiting.wait_for(
        lambda: (c := _conditions(api_client, namespace)["Ready"])["status"] == "False" and c,
        what="Ready=False from the Pod's sidecar state",
    )
    assert ready["reason"] == "SecretNotFound", ready
    assert ready["message"] == (
        f"spec.apiKeySecretRef: Secret {namespace}/{SECRET} does not exist: the sidecar of Pod "
        f"{namespace}/web cannot start (CreateContainerConfigError: {message})"
    )
    degraded = _conditions(api_client, namespace)["Degraded"]
    assert (degraded["status"], degraded["reason"]) == ("True", "SecretNotFound")

    # The Secret arrives and the kubelet's retry starts the sidecar.
    conftest.make_secret(api_client, namespace, SECRET)
    _report_sidecar(core, namespace, "web", {"running": {"startedAt": "2026-03-01T12:00:00Z"}})
    conftest.wait_ready(api_client, namespace, "shop", what="Ready=True once the sidecar runs")
    verified = waiting.wait_for(
        lambda: (c := _conditions(api_client, namespace)["SecretsVerified"])["status"] == "True" and c,
        what="SecretsVerified=True",
    )
    assert verified["reason"] == "SidecarStarted"
    assert f"the sidecar of Pod {namespace}/web started" in verified["message"]

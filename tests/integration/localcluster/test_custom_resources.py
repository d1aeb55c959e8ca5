"""The project's CRD applies to the real apiserver, and its custom resources behave as
Kubernetes promises: schema validation and defaulting, listing, merge patches, and a status
subresource that is written separately from the spec."""

from __future__ import annotations

import pathlib

import pytest
import yaml
from kubernetes import client

from stigg_devkit import waiting
from stigg_localcluster import cluster

CRD_FILE = pathlib.Path(__file__).resolve().parents[3] / "crds" / "stiggentitlements.yaml"
GROUP, VERSION, PLURAL = "sidecar.stigg.io", "v1alpha1", "stiggentitlements"


@pytest.fixture(scope="module")
def crd_applied(local_cluster: cluster.LocalCluster, api_client: client.ApiClient) -> None:
    local_cluster.kubectl("apply", "--server-side", "-f", str(CRD_FILE))
    extensions = client.ApiextensionsV1Api(api_client)
    name = yaml.safe_load(CRD_FILE.read_text())["metadata"]["name"]

    def established() -> bool:
        crd = extensions.read_custom_resource_definition(name)
        return any(c.type == "Established" and c.status == "True" for c in crd.status.conditions or [])

    waiting.wait_for(established, what=f"CRD {name} to be Established")


def _resource(name: str, **spec: object) -> dict[str, object]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "StiggEntitlements",
        "metadata": {"name": name},
        "spec": {"apiKeySecretRef": {"name": "stigg-api-key"}, **spec},
    }


@pytest.mark.usefixtures("crd_applied")
def test_create_list_patch_and_status(api_client: client.ApiClient, namespace: str) -> None:
    custom = client.CustomObjectsApi(api_client)
    created = custom.create_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, _resource("main", defaults={"feature-01": {"hasAccess": True}})
    )
    # Structural-schema defaulting happened on the server.
    assert created["spec"]["mode"] == "Sidecar"
    assert created["spec"]["apiKeySecretRef"]["key"] == "SERVER_API_KEY"
    assert created["metadata"]["generation"] == 1

    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, _resource("other"))
    listed = custom.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)
    assert sorted(item["metadata"]["name"] for item in listed["items"]) == ["main", "other"]

    patched = custom.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, "main", {"spec": {"defaults": {"feature-01": {"usageLimit": 10}}}}
    )
    assert patched["spec"]["defaults"]["feature-01"] == {"hasAccess": True, "usageLimit": 10}
    assert patched["metadata"]["generation"] == 2

    status = {"observedGeneration": 2, "injectedPods": 4, "conditions": [{"type": "Ready", "status": "True"}]}
    after_status = custom.patch_namespaced_custom_object_status(
        GROUP, VERSION, namespace, PLURAL, "main", {"status": status}
    )
    assert after_status["status"] == status
    assert after_status["metadata"]["generation"] == 2, "a status write must not bump the generation"

    # Through the main endpoint, status is ignored: it belongs to the subresource.
    ignored = custom.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, "main", {"status": {"injectedPods": 99}}
    )
    assert ignored["status"]["injectedPods"] == 4
    assert ignored["metadata"]["generation"] == 2


@pytest.mark.usefixtures("crd_applied")
def test_schema_rejects_bad_spec(api_client: client.ApiClient, namespace: str) -> None:
    custom = client.CustomObjectsApi(api_client)
    bad = _resource("bad", mode="everywhere", defaults={"f": {"usageLimit": -1}})
    with pytest.raises(client.ApiException) as raised:
        custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, bad)
    assert raised.value.status == 422
    assert "spec.mode" in raised.value.body
    assert "spec.defaults.f.usageLimit" in raised.value.body

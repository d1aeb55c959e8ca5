"""The sidecar is a native sidecar: the first init container, restartable, hardened, sized by the resource."""

from __future__ import annotations

import copy
import json

from stigg_operator import keys, model
from stigg_operator.injection import patch
from tests.unit.operator.injection import pods


def test_bare_pod_gets_the_sidecar_as_its_only_init_container() -> None:
    pod = pods.bare_pod()
    patched = pods.inject(pod, pods.config())

    [sidecar] = patched["spec"]["initContainers"]
    assert sidecar["name"] == keys.SIDECAR_CONTAINER
    assert sidecar["restartPolicy"] == "Always"
    assert sidecar["image"] == model.OperatorDefaults().sidecar_image
    assert sidecar["imagePullPolicy"] == "IfNotPresent"
    assert "command" not in sidecar, "the image's entrypoint runs"
    assert "args" not in sidecar
    assert patched["spec"]["containers"][0]["name"] == "web", "app containers stay where they are"
    assert all(c["name"] != keys.SIDECAR_CONTAINER for c in patched["spec"]["containers"])


def test_sidecar_is_inserted_before_existing_init_containers() -> None:
    patched = pods.inject(pods.rich_pod(), pods.config(pods.full_spec()))

    assert [c["name"] for c in patched["spec"]["initContainers"]] == [
        keys.SIDECAR_CONTAINER,
        "migrate",
        "warm-cache",
    ]
    assert patched["spec"]["initContainers"][1]["command"] == ["migrate", "up"], (
        "existing init containers untouched"
    )
    assert "restartPolicy" not in patched["spec"]["initContainers"][1]
    assert [c["name"] for c in patched["spec"]["containers"]] == ["checkout", "metrics", "logs"]


def test_image_pull_policy_and_ports_come_from_the_resource() -> None:
    sidecar = pods.sidecar_of(pods.inject(pods.bare_pod(), pods.config(pods.full_spec())))

    assert sidecar["image"] == "registry.example.test:5000/platform/stigg-sidecar:1.4.2"
    assert sidecar["imagePullPolicy"] == "Always"
    assert sidecar["ports"] == [
        {"name": keys.GRPC_PORT_NAME, "containerPort": 50052, "protocol": "TCP"},
        {"name": keys.HTTP_PORT_NAME, "containerPort": 8081, "protocol": "TCP"},
    ]


def test_default_ports_when_the_resource_sets_none() -> None:
    sidecar = pods.sidecar_of(pods.inject(pods.bare_pod(), pods.config()))

    assert {p["name"]: p["containerPort"] for p in sidecar["ports"]} == {
        keys.GRPC_PORT_NAME: 50051,
        keys.HTTP_PORT_NAME: 18020,
    }


def test_security_context_is_restrictive() -> None:
    sidecar = pods.sidecar_of(pods.inject(pods.bare_pod(), pods.config()))

    assert sidecar["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 65532,
        "runAsGroup": 65532,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def test_resources_come_from_the_resource_spec() -> None:
    assert pods.sidecar_of(pods.inject(pods.bare_pod(), pods.config(pods.full_spec())))["resources"] == {
        "requests": {"cpu": "100m", "memory": "96Mi"},
        "limits": {"cpu": "1", "memory": "512Mi"},
    }
    assert pods.sidecar_of(pods.inject(pods.bare_pod(), pods.config()))["resources"] == {
        "requests": {"cpu": "50m", "memory": "64Mi"},
        "limits": {"memory": "256Mi"},
    }


def test_integer_quantities_in_the_spec_become_strings() -> None:
    spec = pods.minimal_spec()
    spec["sidecar"] = {"resources": {"requests": {"cpu": 1}, "limits": {"cpu": 2}}}

    assert pods.sidecar_of(pods.inject(pods.bare_pod(), pods.config(spec)))["resources"] == {
        "requests": {"cpu": "1"},
        "limits": {"cpu": "2"},
    }


def test_patch_is_plain_json_and_leaves_the_input_untouched() -> None:
    pod = pods.rich_pod()
    before = copy.deepcopy(pod)
    ops = patch.build(pod, pods.config(pods.full_spec()))

    assert pod == before
    assert json.loads(json.dumps(ops)) == ops
    assert {op["op"] for op in ops} == {"add"}
    assert all(op["path"].startswith(("/spec/", "/metadata/")) for op in ops)

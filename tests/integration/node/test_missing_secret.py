"""A StiggEntitlements whose API key Secret does not exist: before any Pod its status says the
Secret is unverified (the operator reads no Secret); the webhook still admits and injects the
Pod, the real kubelet holds the sidecar in ``waiting`` with ``CreateContainerConfigError``
naming the Secret (and the app container behind it), and from that container state the
resource's status says ``Ready=False`` with ``SecretNotFound``, naming the Secret and the Pod.
Once the Secret is created, the kubelet's retry starts the sidecar, the Pod becomes Ready and
answers through it, and the status turns Ready with the Secret verified."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from stigg_devkit import kube, waiting
from stigg_operator import keys
from tests.integration.node import conftest

SECRET = "later-api-key"


@pytest.fixture
def keyless_namespace(deployed: kube.Cluster, emulator_in_cluster: str) -> Iterator[str]:
    with conftest.opted_in_namespace(
        deployed, emulator_in_cluster, secret_name=SECRET, create_secret=False
    ) as name:
        yield name


def _statuses(pod: dict[str, Any]) -> dict[str, dict[str, Any]]:
    status = pod.get("status") or {}
    listed = status.get("initContainerStatuses", []) + status.get("containerStatuses", [])
    return {s["name"]: s for s in listed}


def test_a_missing_api_key_secret_blocks_the_sidecar_until_it_exists(
    deployed: kube.Cluster, keyless_namespace: str, image_refs: dict[str, str]
) -> None:
    local, ns = deployed, keyless_namespace

    # No Pod yet: the operator reads no Secret, so it cannot know, and says so.
    verified = waiting.wait_for(
        lambda: conftest.condition(conftest.entitlements_status(local, ns), "SecretsVerified") or None,
        what="a SecretsVerified condition on the StiggEntitlements",
        timeout=30,
    )
    assert (verified["status"], verified["reason"]) == ("False", "Unverified"), verified
    assert verified["message"].startswith(f"Secret {SECRET} "), verified

    # The webhook admits the Pod anyway, with the sidecar reading the key from that Secret.
    pod = conftest.app_pod("shop", image_refs["sidecar"])
    local.kubectl("-n", ns, "apply", "-f", "-", input_text=json.dumps(pod))
    spec = local.get("-n", ns, "pod/shop")["spec"]
    (sidecar,) = spec["initContainers"]
    assert sidecar["name"] == keys.SIDECAR_CONTAINER
    (key_env,) = [e for e in sidecar["env"] if e["name"] == "SERVER_API_KEY"]
    assert key_env["valueFrom"]["secretKeyRef"]["name"] == SECRET
    assert not key_env["valueFrom"]["secretKeyRef"].get("optional"), key_env

    # The kubelet cannot build the sidecar's environment: it waits, saying which Secret.
    def config_error() -> dict[str, Any] | None:
        waiting_state = _statuses(local.get("-n", ns, "pod/shop")).get(keys.SIDECAR_CONTAINER, {})
        state = waiting_state.get("state", {}).get("waiting") or {}
        return state if state.get("reason") == "CreateContainerConfigError" else None

    state = waiting.wait_for(config_error, what="CreateContainerConfigError on the sidecar", timeout=90)
    assert f'secret "{SECRET}" not found' in state["message"], state
    live = local.get("-n", ns, "pod/shop")
    statuses = _statuses(live)
    assert live["status"]["phase"] == "Pending", live["status"]
    assert "running" not in statuses["app"]["state"], statuses["app"]  # held behind the sidecar
    assert conftest.condition(live["status"], "Ready")["status"] == "False"

    # The operator reports it on the resource, from that container state.
    def unready() -> dict[str, Any] | None:
        condition = conftest.condition(conftest.entitlements_status(local, ns), "Ready")
        return condition if condition.get("status") == "False" else None

    ready = waiting.wait_for(unready, what="the StiggEntitlements Ready=False", timeout=60)
    assert ready["reason"] == "SecretNotFound", ready
    expected = f"Secret {ns}/{SECRET} does not exist: the sidecar of Pod {ns}/shop cannot start"
    assert expected in ready["message"], ready
    degraded = conftest.condition(conftest.entitlements_status(local, ns), "Degraded")
    assert (degraded["status"], degraded["reason"]) == ("True", "SecretNotFound"), degraded

    # The Secret arrives: the kubelet retries, the sidecar starts, the Pod becomes Ready.
    local.apply(conftest.api_key_secret(ns, SECRET))
    local.kubectl("-n", ns, "wait", "--for=condition=Ready", "pod/shop", "--timeout=120s")
    live = local.get("-n", ns, "pod/shop")
    assert live["status"]["phase"] == "Running"
    statuses = _statuses(live)
    assert statuses[keys.SIDECAR_CONTAINER]["ready"] is True, statuses
    assert "running" in statuses[keys.SIDECAR_CONTAINER]["state"], statuses
    assert statuses["app"]["ready"] is True, statuses
    answer = conftest.app_get(local, live, "/entitlement?customer=customer-free&feature=feature-sso")
    # The upstream's answer (the defaults would grant it): the sidecar reached it with the key.
    assert (answer["hasAccess"], answer["isFallback"]) == (False, False), answer

    # The operator's next status round sees the Secret.
    def turned_ready() -> dict[str, Any] | None:
        condition = conftest.condition(conftest.entitlements_status(local, ns), "Ready")
        return condition if condition.get("status") == "True" else None

    ready = waiting.wait_for(turned_ready, what="the StiggEntitlements to turn Ready", timeout=60)
    assert ready["reason"] == "Reconciled", ready
    degraded = conftest.condition(conftest.entitlements_status(local, ns), "Degraded")
    assert degraded["status"] == "False", degraded
    verified = conftest.condition(conftest.entitlements_status(local, ns), "SecretsVerified")
    assert (verified["status"], verified["reason"]) == ("True", "SidecarStarted"), verified

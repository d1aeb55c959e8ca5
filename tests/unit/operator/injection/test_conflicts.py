"""A Pod already using a volume name or a port the sidecar needs is denied, naming what clashes."""

from __future__ import annotations

import re

import pytest

from stigg_operator import keys
from stigg_operator.injection import errors, patch
from tests.unit.operator.injection import pods


@pytest.mark.parametrize("volume", [keys.DEFAULTS_VOLUME, keys.STATE_VOLUME])
def test_existing_volume_with_a_sidecar_volume_name_is_denied(volume: str) -> None:
    pod = pods.rich_pod()
    pod["spec"]["volumes"].append({"name": volume, "emptyDir": {}})

    with pytest.raises(errors.InjectionError, match=rf"^spec\.volumes: .*{re.escape(repr(volume))}"):
        patch.build(pod, pods.config())


@pytest.mark.parametrize(("port", "what"), [(50052, "gRPC"), (8081, "HTTP")])
def test_app_container_declaring_a_sidecar_port_is_denied(port: int, what: str) -> None:
    pod = pods.rich_pod()
    pod["spec"]["containers"][1]["ports"] = [{"name": "metrics", "containerPort": port}]

    with pytest.raises(errors.InjectionError) as caught:
        patch.build(pod, pods.config(pods.full_spec()))
    message = str(caught.value)
    assert "container 'metrics'" in message
    assert f"containerPort {port}" in message
    assert what in message


def test_default_ports_conflict_when_the_resource_sets_none() -> None:
    pod = pods.bare_pod()
    pod["spec"]["containers"][0]["ports"] = [{"containerPort": 18020}]

    with pytest.raises(errors.InjectionError, match="container 'web' declares containerPort 18020"):
        patch.build(pod, pods.config())


def test_init_container_declaring_a_sidecar_port_is_denied() -> None:
    pod = pods.rich_pod()
    pod["spec"]["initContainers"][0]["ports"] = [{"containerPort": 50051}]

    with pytest.raises(
        errors.InjectionError, match=r"^spec\.initContainers: init container 'migrate' .* 50051"
    ):
        patch.build(pod, pods.config())


def test_ports_the_sidecar_does_not_use_are_fine() -> None:
    pod = pods.bare_pod()
    pod["spec"]["containers"][0]["ports"] = [{"containerPort": 50051}, {"containerPort": 8080}]

    patched = pods.inject(pod, pods.config(pods.full_spec()))  # the sidecar is on 50052 and 8081
    assert patched["spec"]["containers"][0]["ports"] == [{"containerPort": 50051}, {"containerPort": 8080}]

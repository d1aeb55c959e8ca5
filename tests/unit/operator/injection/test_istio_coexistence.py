"""Beside Istio's native sidecar: with the default ports the Pod is injected, and the sidecar
goes right after ``istio-proxy`` in ``spec.initContainers`` (after ``istio-init`` too), so the
kubelet starts it once the proxy is started and before the app's own init containers."""

from __future__ import annotations

from stigg_operator import keys
from stigg_operator.injection import patch
from tests.unit.operator.injection import pods


def test_the_sidecar_goes_right_after_istio_proxy() -> None:
    patched = pods.inject(pods.istio_pod(), pods.config())

    assert [c["name"] for c in patched["spec"]["initContainers"]] == [
        "istio-init",
        "istio-proxy",
        keys.SIDECAR_CONTAINER,
        "migrate",
    ]
    assert pods.sidecar_of(patched)["restartPolicy"] == "Always"


def test_the_default_ports_clear_istios() -> None:
    ports = {
        p["containerPort"] for p in pods.sidecar_of(pods.inject(pods.istio_pod(), pods.config()))["ports"]
    }

    assert ports.isdisjoint(range(15000, 15100))


def test_without_a_known_native_sidecar_the_sidecar_goes_first() -> None:
    assert patch.sidecar_position([{"name": "migrate", "image": "ghcr.io/shop/migrate:3"}]) == 0
    proxy_as_plain_init = {"name": "istio-proxy", "image": "istio/proxyv2:1.24.2"}  # no restartPolicy
    assert patch.sidecar_position([proxy_as_plain_init]) == 0


def test_only_the_init_containers_after_the_sidecar_are_told_where_it_is() -> None:
    patched = pods.inject(pods.istio_pod(), pods.config())
    by_name = {c["name"]: c for c in patched["spec"]["initContainers"]}

    assert keys.APP_HOST_ENV in pods.env_of(by_name["migrate"])  # starts after the sidecar
    for before in ("istio-init", "istio-proxy"):  # start before it: nothing to call yet
        assert keys.APP_HOST_ENV not in pods.env_of(by_name[before]), before

"""A port a known sidecar or agent in the Pod binds without declaring it (Istio's 15020) counts
as taken: the Pod is denied as for a declared clash, the message naming the port, whose it is,
the container and the field to change."""

from __future__ import annotations

import re

import pytest

from stigg_operator.injection import errors, patch
from tests.unit.operator.injection import pods


def _spec(**sidecar: int) -> dict[str, object]:
    return {**pods.minimal_spec(), "sidecar": sidecar}


def test_istios_merged_metrics_port_as_http_port_is_denied_with_the_reason() -> None:
    with pytest.raises(errors.InjectionError) as caught:
        patch.build(pods.istio_pod(), pods.config(_spec(httpPort=15020)))

    assert str(caught.value) == (
        "spec.initContainers: port 15020 is Istio's merged-metrics port (init container 'istio-proxy' "
        "binds it without declaring it), which the sidecar uses for HTTP probes and metrics "
        "(spec.sidecar.httpPort); set that field to a port Istio leaves free"
    )


def test_an_undeclared_port_as_grpc_port_is_denied() -> None:
    with pytest.raises(errors.InjectionError, match=r"port 15001 is Istio's outbound traffic port .* gRPC"):
        patch.build(pods.istio_pod(), pods.config(_spec(grpcPort=15001)))


def test_a_proxy_among_the_app_containers_counts_too() -> None:
    pod = pods.bare_pod()
    pod["spec"]["containers"].append(
        {"name": "linkerd-proxy", "image": "cr.l5d.io/linkerd/proxy:stable-2.14"}
    )

    with pytest.raises(
        errors.InjectionError,
        match=re.escape(
            "spec.containers: port 4140 is Linkerd's outbound proxy port (container 'linkerd-proxy'"
        ),
    ):
        patch.build(pod, pods.config(_spec(httpPort=4140)))


def test_a_declared_port_of_a_known_sidecar_is_reported_as_declared() -> None:
    with pytest.raises(
        errors.InjectionError, match="init container 'istio-proxy' declares containerPort 15090"
    ):
        patch.build(pods.istio_pod(), pods.config(_spec(httpPort=15090)))


def test_istio_init_runs_to_completion_and_takes_no_port() -> None:
    pod = pods.istio_pod()
    pod["spec"]["initContainers"] = [pod["spec"]["initContainers"][0]]  # istio-init alone

    assert patch.build(pod, pods.config(_spec(httpPort=15020)))


def test_the_same_port_without_the_sidecar_in_the_pod_is_fine() -> None:
    assert patch.build(pods.bare_pod(), pods.config(_spec(httpPort=15020)))

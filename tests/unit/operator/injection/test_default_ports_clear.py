"""The sidecar's default ports are clear of every known sidecar's and agent's ports and of the
blocks they come in, and of the ports applications commonly listen on, so a default injection
never clashes by itself: gRPC 50051 and HTTP 18020 (``model.SidecarContainerConfig``)."""

from __future__ import annotations

import pytest

from stigg_operator import model
from stigg_operator.injection import known_ports
from tests.unit.operator.injection import pods

COMMON_APP_PORTS = {80, 443, 3000, 4000, 5000, 8000, 8080, 8081, 8443, 8888, 9000, 9090, 9100}
DEFAULTS = model.SidecarContainerConfig(image="x")


def test_the_defaults_are_grpc_50051_and_http_18020() -> None:
    assert (DEFAULTS.grpc_port, DEFAULTS.http_port) == (50051, 18020)
    sidecar = pods.config().sidecar  # what a resource that sets no port gets
    assert (sidecar.grpc_port, sidecar.http_port) == (50051, 18020)


@pytest.mark.parametrize("port", [DEFAULTS.grpc_port, DEFAULTS.http_port], ids=["grpc", "http"])
def test_a_default_port_is_nobody_elses(port: int) -> None:
    taken = {number for known in known_ports.KNOWN for number in known.ports}
    assert port not in taken, known_ports.reason(port)
    assert port not in COMMON_APP_PORTS


@pytest.mark.parametrize("port", [DEFAULTS.grpc_port, DEFAULTS.http_port], ids=["grpc", "http"])
def test_a_default_port_is_outside_every_listed_range(port: int) -> None:
    for first, last, whose in known_ports.RANGES:
        assert not first <= port <= last, f"{port} is in {whose}'s {first}-{last}"


def test_each_range_holds_its_owners_listed_ports() -> None:
    by_name = {known.name: known for known in known_ports.KNOWN}
    for first, last, whose in known_ports.RANGES:
        spanned = [port for port in by_name[whose].ports if first <= port <= last]
        assert spanned, whose
        if whose != "Consul service mesh":  # its transparent proxy and DNS lie outside the block
            assert min(by_name[whose].ports) == first
            assert max(by_name[whose].ports) == last

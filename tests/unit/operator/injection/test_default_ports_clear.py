"""The sidecar's default ports are clear of every known sidecar's and agent's ports, and of the
ports applications commonly listen on, so a default injection never clashes by itself."""

from __future__ import annotations

from stigg_operator import model
from stigg_operator.injection import known_ports
from tests.unit.operator.injection import pods

COMMON_APP_PORTS = {80, 443, 3000, 4000, 5000, 8000, 8080, 8081, 8443, 8888, 9000, 9090, 9100}


def test_default_ports_are_nobody_elses() -> None:
    sidecar = pods.config().sidecar
    taken = {port for known in known_ports.KNOWN for port in known.ports}

    for port in (sidecar.grpc_port, sidecar.http_port):
        assert port not in taken, known_ports.reason(port)
        assert port not in COMMON_APP_PORTS


def test_default_http_port_is_outside_istios_range() -> None:
    assert not 15000 <= model.SidecarContainerConfig(image="x").http_port <= 15099

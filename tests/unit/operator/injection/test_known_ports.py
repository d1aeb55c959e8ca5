"""The table of known sidecars and agents: a container is recognised by its name or its image,
and only the ports it binds without listing them are reported as undeclared."""

from __future__ import annotations

import pytest

from stigg_operator.injection import known_ports


@pytest.mark.parametrize(
    ("container", "name"),
    [
        ({"name": "istio-proxy", "image": "registry.example.test/mirror/proxy:1"}, "Istio"),
        ({"name": "mesh", "image": "docker.io/istio/proxyv2:1.24.2"}, "Istio"),
        ({"name": "linkerd-proxy", "image": "cr.l5d.io/linkerd/proxy:edge-24.11.8"}, "Linkerd"),
        ({"name": "daprd", "image": "ghcr.io/dapr/daprd:1.14.4"}, "Dapr"),
        ({"name": "consul-dataplane", "image": "hashicorp/consul-dataplane:1.6"}, "Consul service mesh"),
        (
            {"name": "otc-container", "image": "otel/opentelemetry-collector-contrib:0.115.0"},
            "OpenTelemetry Collector",
        ),
        ({"name": "datadog-agent", "image": "gcr.io/datadoghq/agent:7"}, "Datadog Agent"),
    ],
)
def test_a_known_container_is_recognised_by_name_or_image(container: dict[str, str], name: str) -> None:
    known = known_ports.recognise(container)
    assert known is not None
    assert known.name == name


def test_an_ordinary_container_is_not_recognised() -> None:
    assert known_ports.recognise({"name": "web", "image": "nginx:1.27"}) is None
    assert known_ports.undeclared_ports({"name": "web", "image": "nginx:1.27"}) == {}


def test_declared_ports_are_not_reported_as_undeclared() -> None:
    proxy = {"name": "istio-proxy", "image": "istio/proxyv2:1.24.2", "ports": [{"containerPort": 15090}]}

    undeclared = known_ports.undeclared_ports(proxy)
    assert 15090 not in undeclared
    assert undeclared[15020] == "merged-metrics port"
    assert {15000, 15001, 15006, 15021} <= undeclared.keys()


def test_reason_names_every_owner_of_a_port() -> None:
    assert known_ports.reason(15020) == "Istio's merged-metrics port"
    shared = known_ports.reason(9901)
    assert shared is not None
    assert "Kuma's Envoy admin port" in shared
    assert "AWS App Mesh" in shared
    assert known_ports.reason(18020) is None


@pytest.mark.parametrize(
    ("container", "port", "what"),
    [
        ({"name": "envoy", "image": "public.ecr.aws/appmesh/aws-appmesh-envoy:v1.29"}, 15000, "ingress port"),
        ({"name": "envoy", "image": "public.ecr.aws/appmesh/aws-appmesh-envoy:v1.29"}, 15001, "egress port"),
        (
            {"name": "linkerd-proxy", "image": "cr.l5d.io/linkerd/proxy:edge-24.11.8"},
            4190,
            "control (tap) port",
        ),
        (
            {"name": "consul-dataplane", "image": "hashicorp/consul-dataplane:1.6"},
            20600,
            "graceful-shutdown port",
        ),
        ({"name": "kuma-sidecar", "image": "kumahq/kuma-dp:2.9"}, 15053, "DNS port"),
        ({"name": "datadog-agent-injected", "image": "gcr.io/datadoghq/agent:7"}, 8126, "APM trace port"),
        (
            {"name": "vault-agent", "image": "hashicorp/vault:1.17"},
            8200,
            "cache listener port (with agent-cache-enable)",
        ),
    ],
)
def test_the_corrected_entries(container: dict[str, str], port: int, what: str) -> None:
    """What checking the projects' own code changed (App Mesh's ingress and egress had been
    swapped; Linkerd's tap, Consul's graceful-shutdown, Kuma's DNS ports and the Datadog
    Admission Controller's and Vault's sidecars were missing)."""
    assert known_ports.undeclared_ports(container)[port] == what


def test_a_consul_multi_port_sidecar_is_recognised_by_its_image() -> None:
    # consul-k8s names the i-th service's sidecar "consul-dataplane-<service>".
    container = {"name": "consul-dataplane-web", "image": "hashicorp/consul-dataplane:1.6"}
    known = known_ports.recognise(container)
    assert known is not None
    assert known.name == "Consul service mesh"

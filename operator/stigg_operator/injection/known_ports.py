"""The well-known sidecars and agents that bind ports in a Pod without declaring them all.

Pure data and lookup, no I/O. A Pod's network namespace is shared: a port that a mesh proxy or
an agent listens on is taken for every other container, whether or not its container lists it
in ``ports`` (Istio's ``istio-proxy`` serves merged Prometheus metrics on 15020 and declares
only 15090). ``KNOWN`` is the one table of them: a name, how its container is recognised (an
exact container name, or a substring of its image), and the ports it binds, each with what it
is. ``recognise`` finds a container's entry; ``undeclared_ports`` is what the container binds
but does not list (the clash check of ``patch`` counts them as taken, beside the declared
ones); ``reason`` says whose a port is, for a message. The operator's own default ports
(``model.SidecarContainerConfig``) lie outside every entry here (a unit test keeps it so).

Sources (the projects' own documentation, checked 2025):

* Istio: istio.io/latest/docs/ops/deployment/application-requirements/ ("Ports used by Istio");
* Linkerd: linkerd.io/2/reference/architecture/ and proxy-configuration (4140, 4143, 4191);
* Dapr: docs.dapr.io/reference/arguments-annotations-overview/ (daprd's ports);
* Consul: developer.hashicorp.com/consul/docs/k8s/connect (consul-dataplane, Envoy);
* Kuma: kuma.io/docs/ (kuma-dp's Envoy admin 9901, readiness 9902, metrics 5670);
* AWS App Mesh: docs.aws.amazon.com/app-mesh/ (Envoy 15000/15001, admin 9901); X-Ray daemon 2000;
* OpenTelemetry Collector: opentelemetry.io/docs/collector/ (OTLP, own metrics, extensions);
  the OpenTelemetry Operator names its injected sidecar ``otc-container``;
* Datadog Agent: docs.datadoghq.com/agent/configuration/network/ ("Open ports");
* Cloud SQL Auth Proxy v2: its ``--http-port`` (9090) and ``--admin-port`` (9091);
* Fluent Bit: its built-in HTTP server (2020).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Final


@dataclasses.dataclass(frozen=True)
class KnownSidecar:
    """A sidecar or agent: how its container is recognised, and the ports it binds."""

    name: str  # for people: "Istio", "Dapr"
    container_names: frozenset[str]  # exact container names its injector uses
    image_substrings: tuple[str, ...]  # any one of them in the image reference recognises it
    ports: Mapping[int, str]  # port → what it is, as a noun phrase ("merged-metrics port")

    def matches(self, container: Mapping[str, Any]) -> bool:
        if container.get("name") in self.container_names:
            return True
        image = str(container.get("image") or "")
        return any(part in image for part in self.image_substrings)


KNOWN: Final[tuple[KnownSidecar, ...]] = (
    KnownSidecar(
        "Istio",
        frozenset({"istio-proxy"}),
        ("istio/proxyv2", "istio/proxy_debug", "istio/ztunnel"),
        {
            15000: "Envoy admin port",
            15001: "outbound traffic port",
            15004: "debug port",
            15006: "inbound traffic port",
            15008: "HBONE mTLS tunnel port",
            15009: "HBONE port for secure networks",
            15020: "merged-metrics port",
            15021: "health-check port",
            15053: "DNS proxy port",
            15090: "Envoy Prometheus telemetry port",
        },
    ),
    KnownSidecar(
        "Linkerd",
        frozenset({"linkerd-proxy"}),
        ("linkerd/proxy", "linkerd2-proxy"),
        {4140: "outbound proxy port", 4143: "inbound proxy port", 4191: "admin and metrics port"},
    ),
    KnownSidecar(
        "Dapr",
        frozenset({"daprd"}),
        ("dapr/daprd", "/daprd:"),
        {
            3500: "HTTP API port",
            3501: "public health port",
            50001: "gRPC API port",
            50002: "internal gRPC port",
            9090: "metrics port",
            7777: "profiling port",
        },
    ),
    KnownSidecar(
        "Consul service mesh",
        frozenset({"consul-dataplane", "envoy-sidecar", "consul-connect-envoy-sidecar"}),
        ("hashicorp/consul-dataplane",),
        {
            19000: "Envoy admin port",
            20000: "Envoy public listener port",
            20100: "merged-metrics port",
            20200: "Envoy Prometheus port",
            21000: "Envoy readiness port",
            15001: "transparent-proxy outbound port",
            8600: "DNS proxy port",
        },
    ),
    KnownSidecar(
        "Kuma",
        frozenset({"kuma-sidecar"}),
        ("kumahq/kuma-dp", "kong/kuma-dp"),
        {
            9901: "Envoy admin port",
            9902: "readiness port",
            5670: "metrics port",
            15001: "outbound traffic port",
            15006: "inbound traffic port",
        },
    ),
    KnownSidecar(
        "AWS App Mesh",
        frozenset({"envoy"}),
        ("aws-appmesh-envoy", "envoyproxy/envoy"),
        {9901: "Envoy admin port", 15000: "egress port", 15001: "ingress port"},
    ),
    KnownSidecar(
        "AWS X-Ray",
        frozenset({"xray-daemon", "aws-xray-daemon"}),
        ("aws-xray-daemon",),
        {2000: "X-Ray daemon port"},
    ),
    KnownSidecar(
        "OpenTelemetry Collector",
        frozenset({"otc-container", "otel-collector", "opentelemetry-collector"}),
        ("opentelemetry-collector", "otel/opentelemetry-collector", "otelcol"),
        {
            4317: "OTLP gRPC port",
            4318: "OTLP HTTP port",
            8888: "own-metrics port",
            13133: "health-check port",
            55679: "zPages port",
            1777: "pprof port",
        },
    ),
    KnownSidecar(
        "Datadog Agent",
        frozenset({"datadog-agent"}),
        ("datadog/agent", "datadoghq/agent"),
        {
            8125: "DogStatsD port",
            8126: "APM trace port",
            5000: "expvar port",
            5001: "IPC API port",
            5002: "GUI port",
            5012: "APM expvar port",
            5555: "health port",
        },
    ),
    KnownSidecar(
        "Cloud SQL Auth Proxy",
        frozenset({"cloud-sql-proxy", "cloudsql-proxy"}),
        ("cloud-sql-proxy", "cloudsql-proxy"),
        {9090: "health and metrics port", 9091: "admin port"},
    ),
    KnownSidecar(
        "Fluent Bit", frozenset({"fluent-bit", "fluentbit"}), ("fluent-bit",), {2020: "HTTP server port"}
    ),
)


def recognise(container: Mapping[str, Any]) -> KnownSidecar | None:
    """The known sidecar or agent ``container`` runs, or None."""
    return next((known for known in KNOWN if known.matches(container)), None)


def undeclared_ports(container: Mapping[str, Any]) -> dict[int, str]:
    """The ports a recognised ``container`` binds but does not list in ``ports`` ({} if unknown)."""
    known = recognise(container)
    if known is None:
        return {}
    declared = {port.get("containerPort") for port in container.get("ports") or ()}
    return {port: what for port, what in known.ports.items() if port not in declared}


def reason(port: int) -> str | None:
    """Whose ``port`` is ("Istio's merged-metrics port"; several joined by "and"), or None."""
    owners = [f"{known.name}'s {known.ports[port]}" for known in KNOWN if port in known.ports]
    return " and ".join(owners) or None

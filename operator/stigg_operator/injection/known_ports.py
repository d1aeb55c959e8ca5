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

``RANGES`` are the blocks those ports come in (a Consul Pod with several services takes
``19000+i``, ``20000+i``...), which the defaults stay clear of too; they are documentation and
a test's yardstick, the clash check itself uses the exact ports.

Each entry cites its source above it: the project's own code or chart at the commit read
(``repo@commit:path``), or its documentation. Ports a feature binds only when it is enabled say
so. The sidecar's ports are TCP, so UDP-only ports (Jaeger's 6831/6832) are left out, except
DogStatsD's 8125, kept as the port apps know the Datadog Agent by.
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
    # istio.io/latest/docs/ops/deployment/application-requirements/ ("Ports used by Istio").
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
    # linkerd/linkerd2@b24cd4059: charts/linkerd-control-plane/values.yaml (proxy.ports: admin
    # 4191, control 4190, inbound 4143, outbound 4140), charts/partials/templates/_proxy.tpl
    # (each a LINKERD2_PROXY_*_LISTEN_ADDR), pkg/k8s/labels.go (ProxyContainerName). The
    # 4567/4568 of that values file are Galera's, which proxy-init skips, not Linkerd's.
    KnownSidecar(
        "Linkerd",
        frozenset({"linkerd-proxy"}),
        ("linkerd/proxy", "linkerd2-proxy"),
        {
            4140: "outbound proxy port",
            4143: "inbound proxy port",
            4190: "control (tap) port",
            4191: "admin and metrics port",
        },
    ),
    # dapr/dapr@d8450742ce: pkg/injector/patcher/sidecar.go (SidecarHTTPPort 3500,
    # SidecarPublicPort 3501, dapr.io/grpc-port 50001, dapr.io/internal-grpc-port 50002,
    # dapr.io/metrics-port 9090, dapr.io/debug-port 40000), pkg/runtime/config.go
    # (DefaultProfilePort 7777), pkg/injector/sidecar/consts.go (container "daprd").
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
            7777: "profiling port (with dapr.io/enable-profiling)",
            40000: "debug port (with dapr.io/enable-debug)",
        },
    ),
    # hashicorp/consul-k8s@a507b1d1e: control-plane/connect-inject/constants/constants.go
    # (ProxyDefaultInboundPort 20000, ProxyDefaultHealthPort 21000, DefaultGracefulPort 20600),
    # connect-inject/webhook/consul_dataplane_sidecar.go (Envoy admin 19000+i, DNS proxy 8600 on
    # 127.0.0.1, each port +i for the i-th service of a multi-port Pod), mesh_webhook.go
    # (container "consul-dataplane"), charts/consul/values.yaml (defaultMergedMetricsPort
    # 20100, defaultPrometheusScrapePort 20200); the transparent proxy's outbound listener
    # 127.0.0.1:15001 (cli/common/envoy/testdata/test_config_dump.json).
    KnownSidecar(
        "Consul service mesh",
        frozenset({"consul-dataplane", "envoy-sidecar", "consul-connect-envoy-sidecar"}),
        ("hashicorp/consul-dataplane",),
        {
            19000: "Envoy admin port",
            20000: "Envoy public listener port",
            20100: "merged-metrics port",
            20200: "Envoy Prometheus port",
            20600: "graceful-shutdown port",
            21000: "Envoy readiness port",
            15001: "transparent-proxy outbound port",
            8600: "DNS proxy port",
        },
    ),
    # kumahq/kuma@348b6528bc: pkg/config/app/kuma-cp/kuma-cp.defaults.yaml (bootstrap adminPort
    # 9901, readinessPort 9902, redirectPortOutbound 15001, redirectPortInbound 15006,
    # builtinDNS port 15053, applicationProbeProxyPort 9001),
    # pkg/plugins/policies/meshmetric/api/v1alpha1/meshmetric.go (default 5670),
    # pkg/plugins/runtime/k8s/util/names.go (container "kuma-sidecar").
    KnownSidecar(
        "Kuma",
        frozenset({"kuma-sidecar"}),
        ("kumahq/kuma-dp", "kong/kuma-dp"),
        {
            9901: "Envoy admin port",
            9902: "readiness port",
            9001: "application probe proxy port",
            5670: "metrics port (with MeshMetric)",
            15001: "outbound traffic port",
            15006: "inbound traffic port",
            15053: "DNS port",
        },
    ),
    # aws/aws-app-mesh-controller-for-k8s: pkg/inject/proxy.go (defaultProxyIngressPort 15000,
    # defaultProxyEgressPort 15001); aws/eks-charts@5239609: stable/appmesh-controller/values.yaml
    # (sidecar.envoyAdminAccessPort 9901). App Mesh reaches its end of support in 2026.
    KnownSidecar(
        "AWS App Mesh",
        frozenset({"envoy"}),
        ("aws-appmesh-envoy", "envoyproxy/envoy"),
        {9901: "Envoy admin port", 15000: "ingress port", 15001: "egress port"},
    ),
    # aws/aws-app-mesh-controller-for-k8s: pkg/inject/xray.go (container "xray-daemon", UDP);
    # aws/aws-xray-daemon: pkg/cfg/cfg.go (Socket.TCPAddress 127.0.0.1:2000 as well: its proxy
    # to the X-Ray API, TCP).
    KnownSidecar(
        "AWS X-Ray",
        frozenset({"xray-daemon", "aws-xray-daemon"}),
        ("aws-xray-daemon",),
        {2000: "X-Ray daemon port"},
    ),
    # open-telemetry/opentelemetry-collector-releases@ceccc19d:
    # distributions/otelcol-contrib/config.yaml (the image's default configuration: OTLP
    # 4317/4318, own metrics 8888, health_check 13133, pprof 1777, zPages 55679, Jaeger gRPC
    # 14250 and Thrift HTTP 14268, Zipkin 9411); the OpenTelemetry Operator names its injected
    # sidecar "otc-container".
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
            14250: "Jaeger gRPC port",
            14268: "Jaeger Thrift HTTP port",
            9411: "Zipkin port",
        },
    ),
    # DataDog/datadog-agent: pkg/config/setup (expvar_port 5000, cmd_port 5001,
    # apm_config.debug.port 5012), pkg/clusteragent/admission/mutate/agent_sidecar (the
    # Admission Controller's sidecar "datadog-agent-injected"); docs.datadoghq.com/agent/
    # architecture/ (5000, 5001, 5002 the GUI, 8125) and agent/configuration/network/ (8126 APM,
    # 6062 and 6162 the process agent); DataDog/helm-charts@79f7c74fd: charts/datadog/values.yaml
    # (agents.containers.agent.healthPort 5555; the agent's own default is none).
    KnownSidecar(
        "Datadog Agent",
        frozenset({"datadog-agent", "datadog-agent-injected"}),
        ("datadog/agent", "datadoghq/agent"),
        {
            8125: "DogStatsD port",
            8126: "APM trace port",
            5000: "expvar port",
            5001: "IPC API port",
            5002: "GUI port",
            5012: "APM expvar port",
            5555: "health port",
            6062: "process agent debug port",
            6162: "process agent runtime settings port",
        },
    ),
    # GoogleCloudPlatform/cloud-sql-proxy: cmd/root.go (--http-port 9090 for --prometheus and
    # --health-check, --admin-port 9091 for --debug and --quitquitquit).
    KnownSidecar(
        "Cloud SQL Auth Proxy",
        frozenset({"cloud-sql-proxy", "cloudsql-proxy"}),
        ("cloud-sql-proxy", "cloudsql-proxy"),
        {9090: "health and metrics port", 9091: "admin port"},
    ),
    # docs.fluentbit.io/manual/administration/configuring-fluent-bit/yaml/service-section
    # (http_port 2020, when http_server is on).
    KnownSidecar(
        "Fluent Bit", frozenset({"fluent-bit", "fluentbit"}), ("fluent-bit",), {2020: "HTTP server port"}
    ),
    # hashicorp/vault-k8s: agent-inject/agent/container_sidecar.go (container "vault-agent"),
    # agent/agent.go (DefaultAgentCacheListenerPort "8200", the listener of
    # vault.hashicorp.com/agent-cache-enable and agent-enable-quit, on 127.0.0.1).
    KnownSidecar(
        "Vault Agent",
        frozenset({"vault-agent"}),
        ("hashicorp/vault:", "hashicorp/vault@", "hashicorp/vault-enterprise"),
        {8200: "cache listener port (with agent-cache-enable)"},
    ),
)

# The blocks the ports above come in, (first, last, whose): Istio's and Linkerd's span their
# listed ports; Consul's reach from the first service's Envoy admin port (19000) to the end of
# Consul's automatic sidecar range, 21000-21255 (developer.hashicorp.com/consul/docs/install/ports,
# "Sidecar Proxy Min/Max"), since each further service of a Pod takes the next port of each.
RANGES: Final[tuple[tuple[int, int, str], ...]] = (
    (15000, 15090, "Istio"),
    (4140, 4191, "Linkerd"),
    (19000, 21255, "Consul service mesh"),
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

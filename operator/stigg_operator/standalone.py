"""Standalone mode, pure: the objects that run one shared sidecar for many applications.

``spec.mode: Standalone`` makes the operator run the sidecar as a Deployment of its own (the
same container, probes, env, defaults ConfigMap and state volume as the injected one, as a
regular container), behind a ClusterIP Service, with a PodDisruptionBudget, a NetworkPolicy,
and a HorizontalPodAutoscaler when ``spec.standalone.autoscaling`` asks for one. Pods that opt
in then get only ``STIGG_SIDECAR_HOST``/``STIGG_SIDECAR_PORT`` pointing at the Service
(``injection.patch``). Every object is named ``<resource>-stigg-sidecar``, labelled as the operator's,
and owned by the resource (so deleting the resource deletes them); ``objects`` lists them in
the order to apply, and ``KINDS`` says how to find them for the cleanup when the resource
switches back to Sidecar mode.

The shared Pods carry ``sidecar.stigg.io/inject=false``, so a namespace's opt-in never injects
a sidecar into the sidecar. The NetworkPolicy admits, on the gRPC port only, Pods that are
opted in: every Pod (not opted out) of a namespace labelled for injection, and Pods labelled
``sidecar.stigg.io/inject=true`` in any namespace, both limited to the resource's own namespace
unless the resource is the cluster-wide default. With an autoscaler, the Deployment leaves
``replicas`` to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from stigg_operator import keys, model
from stigg_operator.injection import overrides, template


class Kind(NamedTuple):
    api_version: str
    kind: str
    plural: str


DEPLOYMENT = Kind("apps/v1", "Deployment", "deployments")
SERVICE = Kind("v1", "Service", "services")
PDB = Kind("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets")
NETWORK_POLICY = Kind("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies")
HPA = Kind("autoscaling/v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers")
KINDS = (DEPLOYMENT, SERVICE, PDB, NETWORK_POLICY, HPA)

APP_NAME = "stigg-sidecar"


def selector(config: model.EffectiveConfig) -> dict[str, str]:
    return {"app.kubernetes.io/name": APP_NAME, "app.kubernetes.io/instance": config.standalone_name}


def _metadata(config: model.EffectiveConfig) -> dict[str, Any]:
    return {
        "name": config.standalone_name,
        "namespace": config.namespace,
        "labels": {
            **selector(config),
            "app.kubernetes.io/managed-by": "stigg-operator",
            keys.CONFIG_ANNOTATION: config.name,
        },
    }


# A shared sidecar is reached through its Service: on SIGTERM it turns unready at once but keeps
# answering this long, so the endpoints controller and kube-proxy stop routing to it first (an
# injected sidecar needs no delay: the kubelet stops it only after the app's containers).
SHUTDOWN_DELAY_SECONDS = 5


def deployment(config: model.EffectiveConfig) -> dict[str, Any]:
    container = template.sidecar_container(config, overrides.Overrides())
    del container["restartPolicy"]  # a regular container here, not a native sidecar
    container["env"] = [
        *container["env"],
        {"name": "SIDECAR_SHUTDOWN_DELAY_SECONDS", "value": str(SHUTDOWN_DELAY_SECONDS)},
    ]
    spec: dict[str, Any] = {
        "selector": {"matchLabels": selector(config)},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
        "template": {
            "metadata": {
                "labels": {**selector(config), keys.POD_INJECT_LABEL: "false"},
                "annotations": {keys.INJECTED_ANNOTATION: template.injected_value(config)},
            },
            "spec": {
                "automountServiceAccountToken": False,
                "enableServiceLinks": False,
                "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [container],
                "volumes": template.sidecar_volumes(config),
                "topologySpreadConstraints": [
                    {
                        "maxSkew": 1,
                        "topologyKey": "kubernetes.io/hostname",
                        "whenUnsatisfiable": "ScheduleAnyway",
                        "labelSelector": {"matchLabels": selector(config)},
                    }
                ],
            },
        },
    }
    if config.standalone.autoscaling is None:
        spec["replicas"] = config.standalone.replicas
    return {
        "apiVersion": DEPLOYMENT.api_version,
        "kind": DEPLOYMENT.kind,
        "metadata": _metadata(config),
        "spec": spec,
    }


def service(config: model.EffectiveConfig) -> dict[str, Any]:
    return {
        "apiVersion": SERVICE.api_version,
        "kind": SERVICE.kind,
        "metadata": _metadata(config),
        "spec": {
            "type": "ClusterIP",
            "selector": selector(config),
            "ports": [
                {
                    "name": keys.GRPC_PORT_NAME,
                    "port": config.sidecar.grpc_port,
                    "targetPort": keys.GRPC_PORT_NAME,
                    "protocol": "TCP",
                    "appProtocol": "grpc",
                },
                {
                    "name": keys.HTTP_PORT_NAME,
                    "port": config.sidecar.http_port,
                    "targetPort": keys.HTTP_PORT_NAME,
                    "protocol": "TCP",
                },
            ],
        },
    }


def pod_disruption_budget(config: model.EffectiveConfig) -> dict[str, Any]:
    return {
        "apiVersion": PDB.api_version,
        "kind": PDB.kind,
        "metadata": _metadata(config),
        "spec": {
            "minAvailable": config.standalone.min_available,
            "selector": {"matchLabels": selector(config)},
        },
    }


def network_policy(config: model.EffectiveConfig, *, cluster_wide: bool) -> dict[str, Any]:
    """Ingress to the gRPC port from opted-in Pods only (see the module docstring)."""
    own_namespace = {} if cluster_wide else {"kubernetes.io/metadata.name": config.namespace}
    opted_in_namespaces = {
        "namespaceSelector": {"matchLabels": {**own_namespace, keys.NAMESPACE_INJECTION_LABEL: "enabled"}},
        "podSelector": {
            "matchExpressions": [{"key": keys.POD_INJECT_LABEL, "operator": "NotIn", "values": ["false"]}]
        },
    }
    opted_in_pods = {
        "namespaceSelector": {"matchLabels": own_namespace},
        "podSelector": {"matchLabels": {keys.POD_INJECT_LABEL: "true"}},
    }
    return {
        "apiVersion": NETWORK_POLICY.api_version,
        "kind": NETWORK_POLICY.kind,
        "metadata": _metadata(config),
        "spec": {
            "podSelector": {"matchLabels": selector(config)},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [opted_in_namespaces, opted_in_pods],
                    "ports": [{"port": config.sidecar.grpc_port, "protocol": "TCP"}],
                }
            ],
        },
    }


def autoscaler(config: model.EffectiveConfig) -> dict[str, Any] | None:
    scaling = config.standalone.autoscaling
    if scaling is None:
        return None
    return {
        "apiVersion": HPA.api_version,
        "kind": HPA.kind,
        "metadata": _metadata(config),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": config.standalone_name},
            "minReplicas": scaling.min_replicas,
            "maxReplicas": scaling.max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {
                            "type": "Utilization",
                            "averageUtilization": scaling.target_cpu_utilization,
                        },
                    },
                }
            ],
        },
    }


def objects(config: model.EffectiveConfig, *, cluster_wide: bool) -> dict[Kind, dict[str, Any] | None]:
    """Every kind of standalone object → its desired body (None: must not exist), in apply order."""
    return {
        DEPLOYMENT: deployment(config),
        SERVICE: service(config),
        PDB: pod_disruption_budget(config),
        NETWORK_POLICY: network_policy(config, cluster_wide=cluster_wide),
        HPA: autoscaler(config),
    }


def readiness(deployment_status: Mapping[str, Any] | None, config: model.EffectiveConfig) -> dict[str, Any]:
    """The status block of standalone mode, from the shared Deployment's status."""
    current = deployment_status or {}
    replicas = int(current.get("replicas") or 0)
    ready = int(current.get("readyReplicas") or 0)
    return {
        "service": f"{config.standalone_host}:{config.sidecar.grpc_port}",
        "replicas": replicas,
        "readyReplicas": ready,
        "ready": f"{ready}/{replicas}",
    }

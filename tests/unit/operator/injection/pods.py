"""Realistic Pods and StiggEntitlements specs for the injector tests, and the patch applied with jsonpatch.

``inject`` applies ``patch.build`` with the ``jsonpatch`` package to a copy of the Pod, so a
patch that adds below a missing parent (which Kubernetes refuses) fails the test.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch

from stigg_operator import keys, model
from stigg_operator.injection import patch

NAMESPACE = "shop"
NAME = "entitlements"
# What the Secret "stigg-api-key" holds in the cluster; the injector must never see or write it.
API_KEY_VALUE = "srv-key-live-5b0e1c9a7d"


def full_spec() -> dict[str, Any]:
    """A StiggEntitlements spec setting every field the injector wires."""
    return {
        "apiKeySecretRef": {"name": "stigg-api-key", "key": "server-key"},
        "upstream": {
            "apiUrl": "https://api.example.test",
            "edgeEnabled": False,
            "edgeApiUrl": "https://edge.example.test",
            "realtime": True,
            "wsUrl": "wss://ws.example.test",
        },
        "cache": {
            "maxSizeBytes": 33554432,
            "ttlSeconds": 120,
            "redis": {
                "host": "redis.shop.svc",
                "port": 6380,
                "prefix": "shop-prod",
                "db": 2,
                "tls": True,
                "passwordSecretRef": {"name": "redis-auth", "key": "redis-password"},
                "keysTtlSeconds": 3600,
            },
        },
        "defaults": {"feature-api-calls": {"hasAccess": True, "usageLimit": 100}},
        "sidecar": {
            "image": "registry.example.test:5000/platform/stigg-sidecar:1.4.2",
            "imagePullPolicy": "Always",
            "grpcPort": 50052,
            "httpPort": 8081,
            "logLevel": "debug",
            "resources": {
                "requests": {"cpu": "100m", "memory": "96Mi"},
                "limits": {"cpu": "1", "memory": "512Mi"},
            },
        },
        "injection": {"failurePolicy": "Ignore"},
    }


def minimal_spec() -> dict[str, Any]:
    """Only the API key: everything else is the operator's or the sidecar's default."""
    return {"apiKeySecretRef": {"name": "stigg-api-key"}}


def config(spec: dict[str, Any] | None = None) -> model.EffectiveConfig:
    return model.effective(
        NAMESPACE, NAME, minimal_spec() if spec is None else spec, model.OperatorDefaults()
    )


def bare_pod() -> dict[str, Any]:
    """A Pod as a bare Deployment makes it: no env, volumes, init containers, annotations or labels."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"generateName": "web-7d9f8b-", "namespace": NAMESPACE},
        "spec": {
            "containers": [{"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}],
            "restartPolicy": "Always",
        },
    }


def rich_pod() -> dict[str, Any]:
    """A Pod with init containers, env (some already naming the sidecar), volumes, annotations, labels."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "checkout-0",
            "namespace": NAMESPACE,
            "labels": {"app.kubernetes.io/name": "checkout", "sidecar.stigg.io/inject": "true"},
            "annotations": {
                "prometheus.io/scrape": "true",
                "example.com/odd~key": "tilde",
                keys.CONFIG_ANNOTATION: f"{NAMESPACE}/{NAME}",
            },
        },
        "spec": {
            "initContainers": [
                {"name": "migrate", "image": "ghcr.io/shop/migrate:3", "command": ["migrate", "up"]},
                {"name": "warm-cache", "image": "ghcr.io/shop/warm:3"},
            ],
            "containers": [
                {
                    "name": "checkout",
                    "image": "ghcr.io/shop/checkout:3",
                    "env": [
                        {"name": "DATABASE_URL", "value": "postgres://db/shop"},
                        {"name": keys.APP_PORT_ENV, "value": "6000"},
                    ],
                    "ports": [{"name": "http", "containerPort": 8000}],
                    "volumeMounts": [{"name": "config", "mountPath": "/etc/checkout"}],
                },
                {
                    "name": "metrics",
                    "image": "ghcr.io/shop/exporter:1",
                    "env": [
                        {"name": keys.APP_HOST_ENV, "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}
                    ],
                },
                {"name": "logs", "image": "ghcr.io/shop/logs:1", "env": []},
            ],
            "volumes": [{"name": "config", "configMap": {"name": "checkout-config"}}],
        },
    }


def inject(pod: dict[str, Any], effective: model.EffectiveConfig) -> dict[str, Any]:
    """``pod`` with the injector's patch applied (the input is left untouched)."""
    ops = patch.build(pod, effective)
    assert ops, "expected a non-empty patch"
    patched: dict[str, Any] = jsonpatch.apply_patch(copy.deepcopy(pod), ops)
    return patched


def sidecar_of(pod: dict[str, Any]) -> dict[str, Any]:
    [sidecar] = [c for c in pod["spec"]["initContainers"] if c["name"] == keys.SIDECAR_CONTAINER]
    return sidecar


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A container's env entries by name (asserting no name is listed twice)."""
    names = [entry["name"] for entry in container.get("env", [])]
    assert len(names) == len(set(names)), f"duplicate env names in {container['name']}: {names}"
    return {entry["name"]: entry for entry in container.get("env", [])}


def pod_with_annotations(extra: dict[str, str]) -> dict[str, Any]:
    pod = bare_pod()
    pod["metadata"]["annotations"] = dict(extra)
    return pod


def istio_pod() -> dict[str, Any]:
    """A Pod as Istio's injector leaves it with native sidecars: ``istio-init`` (iptables, run to
    completion), then ``istio-proxy`` (``restartPolicy: Always``), declaring 15090 only although
    it binds 15000, 15001, 15006, 15020, 15021 and more; then the app's own init container."""
    proxy_image = "docker.io/istio/proxyv2:1.24.2"
    pod = bare_pod()
    pod["spec"]["initContainers"] = [
        {
            "name": "istio-init",
            "image": proxy_image,
            "args": ["istio-iptables", "-p", "15001", "-z", "15006"],
        },
        {
            "name": "istio-proxy",
            "image": proxy_image,
            "restartPolicy": "Always",
            "args": ["proxy", "sidecar"],
            "ports": [{"name": "http-envoy-prom", "containerPort": 15090, "protocol": "TCP"}],
            "startupProbe": {"httpGet": {"path": "/healthz/ready", "port": 15021}},
        },
        {"name": "migrate", "image": "ghcr.io/shop/migrate:3"},
    ]
    return pod

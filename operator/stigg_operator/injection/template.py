"""The sidecar container template: what is injected, from an ``EffectiveConfig`` (pure).

``sidecar_container`` is the native sidecar (Kubernetes >= 1.29): an init container with
``restartPolicy: Always`` and a ``startupProbe``, so the kubelet starts every later container
only once the sidecar answers ``/readyz``, and it keeps running beside them (without keeping a
Job from completing). Standalone mode's shared Deployment runs the same container, as a regular
one (``standalone``). Its configuration is the sidecar's own environment (``sidecar_env``, see
``stigg_sidecar.settings``): the API key and the Redis password only ever as ``secretKeyRef``
(the webhook never sees a secret value), everything else as strings, and a variable left out
when the resource does not set it, so the sidecar's default applies. The default values reach
the sidecar through the resource's ConfigMap, mounted as a directory (never ``subPath``: the
kubelet only refreshes whole-volume mounts, and the sidecar reloads the directory) and
``optional``, so a briefly missing ConfigMap delays defaults, not the Pod (``sidecar_volumes``);
until it is mounted, ``ENTITLEMENTS_FALLBACK`` carries them, within ``limits.ENV_DEFAULTS_BUDGET``.
The sidecar runs as a non-root user on a read-only root filesystem, with an ``emptyDir`` for its
state. Resources are the resource's with the Pod's ``Overrides`` on top, a request no larger
than its limit (``InjectionError`` naming both sources otherwise). ``injected_value`` is what a
Pod records of its injection: ``<namespace>/<name>@<wiring hash>``.
"""

from __future__ import annotations

from typing import Any, Final

from stigg_operator import keys, limits, model
from stigg_operator.injection import errors, grammar, overrides

STATE_SIZE_LIMIT: Final = "64Mi"
SIDECAR_UID: Final = 65532  # "nonroot" of distroless images


def sidecar_volumes(config: model.EffectiveConfig) -> list[dict[str, Any]]:
    """The defaults ConfigMap (as a directory, optional) and the state ``emptyDir``."""
    return [
        {"name": keys.DEFAULTS_VOLUME, "configMap": {"name": config.configmap_name, "optional": True}},
        {"name": keys.STATE_VOLUME, "emptyDir": {"sizeLimit": STATE_SIZE_LIMIT}},
    ]


def injected_value(config: model.EffectiveConfig) -> str:
    """The value of the injected annotation: which resource, and which wiring of it."""
    return f"{config.ref}@{config.wiring_hash()}"


def sidecar_container(config: model.EffectiveConfig, pod_overrides: overrides.Overrides) -> dict[str, Any]:
    """The native sidecar container (an init container with ``restartPolicy: Always``)."""
    http = {"port": keys.HTTP_PORT_NAME}
    return {
        "name": keys.SIDECAR_CONTAINER,
        "image": pod_overrides.image or config.sidecar.image,
        "imagePullPolicy": config.sidecar.image_pull_policy,
        "restartPolicy": "Always",
        "env": sidecar_env(config, pod_overrides.log_level or config.sidecar.log_level),
        "ports": [
            {
                "name": keys.GRPC_PORT_NAME,
                "containerPort": config.sidecar.grpc_port,
                "protocol": "TCP",
            },
            {
                "name": keys.HTTP_PORT_NAME,
                "containerPort": config.sidecar.http_port,
                "protocol": "TCP",
            },
        ],
        "startupProbe": {"httpGet": {**http, "path": "/readyz"}, "periodSeconds": 1, "failureThreshold": 60},
        "readinessProbe": {"httpGet": {**http, "path": "/readyz"}, "periodSeconds": 5},
        "livenessProbe": {"httpGet": {**http, "path": "/livez"}, "periodSeconds": 10, "failureThreshold": 3},
        "resources": _resources(config, pod_overrides),
        "volumeMounts": [
            {
                "name": keys.DEFAULTS_VOLUME,
                "mountPath": keys.DEFAULTS_MOUNT_PATH,
                "readOnly": True,
            },
            {"name": keys.STATE_VOLUME, "mountPath": keys.STATE_MOUNT_PATH},
        ],
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": SIDECAR_UID,
            "runAsGroup": SIDECAR_UID,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }


def sidecar_env(config: model.EffectiveConfig, log_level: str) -> list[dict[str, Any]]:
    """The sidecar's environment: secrets by reference only, unset options left to its defaults."""
    env: list[dict[str, Any]] = []

    def put(name: str, value: object) -> None:
        if value is not None:
            env.append({"name": name, "value": str(value).lower() if isinstance(value, bool) else str(value)})

    if config.api_key.name:
        key_ref: dict[str, Any] = {"name": config.api_key.name, "key": config.api_key.key}
        if config.offline:
            key_ref["optional"] = True  # offline never uses it: a missing Secret must not block the Pod
        env.append({"name": "SERVER_API_KEY", "valueFrom": {"secretKeyRef": key_ref}})
    elif not config.offline:
        raise errors.InjectionError(
            f"spec.apiKeySecretRef of StiggEntitlements {config.ref}: required (unless spec.offline is true)"
        )
    if config.offline:
        put("OFFLINE", True)
    put("API_URL", config.api_url)
    put("EDGE_ENABLED", config.edge_enabled)
    put("EDGE_API_URL", config.edge_api_url)
    put("WS_ENABLED", config.realtime)
    put("WS_URL", config.ws_url)
    put("CACHE_MAX_SIZE_BYTES", config.cache_max_size_bytes)
    put("SIDECAR_CACHE_TTL_SECONDS", config.cache_ttl_seconds)
    if config.redis is not None:
        redis = config.redis
        put("REDIS_ENVIRONMENT_PREFIX", redis.environment_prefix)
        put("REDIS_HOST", redis.host)
        put("REDIS_PORT", redis.port)
        put("REDIS_DB", redis.db)
        put("REDIS_TLS", redis.tls)
        put("REDIS_KEYS_TTL_IN_SECS", redis.keys_ttl_seconds)
        if redis.password is not None:
            password_ref = {"name": redis.password.name, "key": redis.password.key}
            env.append({"name": "REDIS_PASSWORD", "valueFrom": {"secretKeyRef": password_ref}})
    put("GRPC_PORT", config.sidecar.grpc_port)
    put("SIDECAR_HTTP_PORT", config.sidecar.http_port)
    put("SIDECAR_BIND_ADDRESS", "0.0.0.0")  # noqa: S104 -- the kubelet probes the Pod IP
    put("LOG_LEVEL", log_level)
    put("SIDECAR_DEFAULTS_DIR", keys.DEFAULTS_MOUNT_PATH)
    put("SIDECAR_STATE_DIR", keys.STATE_MOUNT_PATH)  # the usage outbox survives container restarts
    # The same defaults as the mounted ConfigMap, which takes precedence while it exists: this
    # covers the first seconds of a brand-new resource, and of the first Pod cluster-default
    # serves in a namespace (the operator copies its ConfigMap there within a status interval).
    # Only within limits.ENV_DEFAULTS_BUDGET: one env var over Linux's MAX_ARG_STRLEN (128 KiB)
    # keeps the container from starting; above the budget the ConfigMap alone carries them.
    put(limits.ENV_DEFAULTS_VAR, config.env_defaults())
    return env


def _resources(
    config: model.EffectiveConfig, pod_overrides: overrides.Overrides
) -> dict[str, dict[str, str]]:
    """The resource's requests and limits with the Pod's overrides on top; request <= limit checked."""
    merged: dict[str, dict[str, str]] = {}
    sources: dict[tuple[str, str], str] = {}
    for section, values in config.sidecar.resources.items():
        merged[section] = {str(k): str(v) for k, v in values.items()}
        for resource in values:
            sources[section, str(resource)] = (
                f"spec.sidecar.resources.{section}.{resource} of StiggEntitlements {config.ref}"
            )
    for section, values in (("requests", pod_overrides.requests), ("limits", pod_overrides.limits)):
        for resource, value in values.items():
            merged.setdefault(section, {})[resource] = value
            sources[section, resource] = f"annotation {overrides.RESOURCE_ANNOTATIONS[section, resource]}"
    for resource in ("cpu", "memory"):
        request = merged.get("requests", {}).get(resource)
        limit = merged.get("limits", {}).get(resource)
        if request is None or limit is None:
            continue
        request_source, limit_source = sources["requests", resource], sources["limits", resource]
        if grammar.quantity(request, request_source) > grammar.quantity(limit, limit_source):
            if limit_source.startswith("annotation") and not request_source.startswith("annotation"):
                raise errors.InjectionError(
                    f"{limit_source}: {limit} is less than the {resource} request {request} "
                    f"({request_source})"
                )
            raise errors.InjectionError(
                f"{request_source}: {request} is more than the {resource} limit {limit} ({limit_source})"
            )
    return {section: values for section, values in merged.items() if values}

"""The sidecar injection as a pure function: a Pod and an ``EffectiveConfig`` in, a JSON Patch out.

(In Standalone mode, ``patch`` only tells the app containers where the shared sidecar is,
``STIGG_SIDECAR_HOST``/``STIGG_SIDECAR_PORT`` at its Service, and records the injection; what
follows describes Sidecar mode.)

No I/O, no kopf, no Kubernetes client: the webhook adapter hands over the Pod of an
AdmissionReview as plain dicts and returns what ``patch`` computes as the review's RFC 6902
JSON Patch. Everything the Pod will get is decided here, so it is tested here, on dicts.

The sidecar is added as a *native sidecar* (Kubernetes >= 1.29): an init container with
``restartPolicy: Always``, inserted first in ``spec.initContainers``. The kubelet starts init
containers in order and, for a restartable one, moves on once its ``startupProbe`` succeeds; so
every other init container and every app container starts only after the sidecar answers
``/readyz``, and the sidecar keeps running beside them (and does not keep a Job from
completing). Its configuration is the sidecar's own environment variables (see
``stigg_sidecar.settings``): the API key and the Redis password only ever as ``secretKeyRef``
(the webhook never sees a secret value), everything else as strings, and a variable is left out
when the resource does not set it, so the sidecar's default applies. The default values reach
the sidecar through the resource's ConfigMap, mounted as a directory (never ``subPath``: the
kubelet only refreshes whole-volume mounts, and the sidecar reloads the directory) and
``optional``, so a briefly missing ConfigMap delays defaults, not the Pod. The sidecar runs as
a non-root user on a read-only root filesystem, with an ``emptyDir`` for its state. Every app
container learns where the sidecar is from ``STIGG_SIDECAR_HOST`` and ``STIGG_SIDECAR_PORT``,
added only where the container does not set them itself (a variable set through ``envFrom`` is
invisible here: an ``env`` entry would win over it, so such a container should set the variable
in ``env`` instead).

Per-Pod annotations override the image, the log level and the sidecar's CPU and memory
requests and limits (``overrides``). They are validated like Kubernetes would validate them
(the image reference grammar of distribution/reference, Kubernetes' quantity grammar, a request
no larger than its limit), and a bad value *denies* the Pod with an ``InjectionError`` naming
the annotation and the problem, since a Pod the apiserver later rejects, or that crash-loops,
is worse than a clear denial at admission. So do a volume name or a container port that the
sidecar needs and the Pod already uses.

The patch is valid against the Pod exactly as given: a missing list or map
(``spec.initContainers``, ``spec.volumes``, a container's ``env``, ``metadata.annotations``,
``metadata.labels``) is added whole, since an ``add`` below a missing parent fails. Map keys are
escaped as JSON Pointer tokens (``/`` as ``~1``, ``~`` as ``~0``). The injection is recorded in
the annotation ``sidecar.stigg.io/injected`` (``<namespace>/<name>@<wiring hash>``, so a changed
resource can be told apart from the one a Pod was injected with) and the label
``sidecar.stigg.io/injected=true`` (for selectors). Injection is idempotent: a Pod that has the
sidecar or the annotation gets an empty patch, and so does a ``hostNetwork`` Pod (its ports
would be the node's, shared by every such Pod on it); ``skip_reason`` says which, for the
caller to log or count.
"""

from __future__ import annotations

import dataclasses
import fractions
import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from stigg_operator import keys, model

SKIP_ALREADY_INJECTED: Final = "already injected"
SKIP_HOST_NETWORK: Final = "hostNetwork Pod"

LOG_LEVELS: Final = ("error", "warn", "info", "debug")
STATE_SIZE_LIMIT: Final = "64Mi"
SIDECAR_UID: Final = 65532  # "nonroot" of distroless images

_RESOURCE_ANNOTATIONS: Final = {
    ("requests", "cpu"): keys.CPU_REQUEST_ANNOTATION,
    ("limits", "cpu"): keys.CPU_LIMIT_ANNOTATION,
    ("requests", "memory"): keys.MEMORY_REQUEST_ANNOTATION,
    ("limits", "memory"): keys.MEMORY_LIMIT_ANNOTATION,
}

# distribution/reference's grammar: [domain[:port]/]path-component[/path-component...][:tag][@digest].
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?"
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE = re.compile(
    rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"
    r"(?:@(?:sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128}))?"
)
_IMAGE_MAX_LENGTH = 512  # a repository name is at most 255; tag and digest add at most 265

# Kubernetes' quantity grammar (k8s.io/apimachinery/pkg/api/resource):
#   <signedNumber> ( <binarySI> | <decimalExponent> | <decimalSI> ), the suffix "" included;
#   "1E" is exa, "1E3" is 1000; the exponent is an integer.
_QUANTITY = re.compile(
    r"(?P<sign>[+-]?)(?P<number>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
    r"(?:(?P<binary>[KMGTPE]i)|[eE](?P<exponent>[+-]?[0-9]+)|(?P<decimal>[numkMGTPE]?))"
)
_NOT_A_QUANTITY = "not a Kubernetes quantity"
_QUANTITY_MAX_LENGTH = 64
_MAX_EXPONENT = 1000  # Kubernetes takes int32 exponents and clamps; past this, refuse (cheaply)
_BINARY_SI: Final = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_SI: Final = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_QUANTITY_MAX = fractions.Fraction(2**63 - 1)  # Kubernetes clamps larger values to this
_NANO = 10**9  # and rounds finer values up to a nano unit


class InjectionError(ValueError):
    """The Pod must be denied; the message names the annotation or field and the problem."""


@dataclasses.dataclass(frozen=True)
class Overrides:
    """The validated per-Pod override annotations; ``None`` or missing: not overridden."""

    image: str | None = None
    log_level: str | None = None
    requests: Mapping[str, str] = dataclasses.field(default_factory=dict)
    limits: Mapping[str, str] = dataclasses.field(default_factory=dict)


def parse_quantity(text: str) -> fractions.Fraction:
    """A Kubernetes quantity's exact value, as the apiserver reads it; ``ValueError`` if malformed.

    ``100m`` is 1/10, ``128Mi`` is 134217728, ``1e3`` and ``1k`` are 1000. Like Kubernetes,
    values beyond 2**63-1 are clamped and values finer than a nano unit round up (away from 0).
    """
    if len(text) > _QUANTITY_MAX_LENGTH:
        raise ValueError(f"longer than {_QUANTITY_MAX_LENGTH} characters")
    match = _QUANTITY.fullmatch(text)
    if match is None:
        raise ValueError(_NOT_A_QUANTITY)
    whole, _, fraction_digits = match["number"].partition(".")
    value = fractions.Fraction(
        int(whole or "0") * 10 ** len(fraction_digits) + int(fraction_digits or "0"),
        10 ** len(fraction_digits),
    )
    if match["binary"] is not None:
        value *= 2 ** _BINARY_SI[match["binary"]]
    else:
        exponent = int(match["exponent"]) if match["exponent"] is not None else _DECIMAL_SI[match["decimal"]]
        if abs(exponent) > _MAX_EXPONENT:
            raise ValueError("exponent out of range")
        value *= fractions.Fraction(10) ** exponent
    value = min(fractions.Fraction(math.ceil(value * _NANO), _NANO), _QUANTITY_MAX)
    return -value if match["sign"] == "-" else value


def overrides(pod_annotations: Mapping[str, str]) -> Overrides:
    """Validate the per-Pod override annotations; ``InjectionError`` names the first bad one.

    A present annotation is a request: an empty value is an error, not "unset". The log level
    is case-insensitive (like the sidecar's ``LOG_LEVEL``) and returned in lower case; quantities
    are returned as written. A request larger than its limit is refused here when both are
    annotations, and by ``patch`` when one side comes from the resource.
    """
    image = pod_annotations.get(keys.IMAGE_ANNOTATION)
    if image is not None:
        problem = None
        if not image:
            problem = "must not be empty"
        elif any(char.isspace() for char in image):
            problem = f"must not contain whitespace, got {image!r}"
        elif len(image) > _IMAGE_MAX_LENGTH or not _IMAGE.fullmatch(image):
            problem = (
                f"must be an image reference such as registry.example:5000/team/sidecar:1.2, got {image!r}"
            )
        if problem:
            raise InjectionError(f"annotation {keys.IMAGE_ANNOTATION}: {problem}")

    log_level = pod_annotations.get(keys.LOG_LEVEL_ANNOTATION)
    if log_level is not None:
        if log_level.strip().lower() not in LOG_LEVELS:
            raise InjectionError(
                f"annotation {keys.LOG_LEVEL_ANNOTATION}: must be one of {', '.join(LOG_LEVELS)}, "
                f"got {log_level!r}"
            )
        log_level = log_level.strip().lower()

    sections: dict[str, dict[str, str]] = {"requests": {}, "limits": {}}
    for (section, resource), annotation in _RESOURCE_ANNOTATIONS.items():
        raw = pod_annotations.get(annotation)
        if raw is None:
            continue
        _quantity(raw, f"annotation {annotation}")
        sections[section][resource] = raw
    for resource in ("cpu", "memory"):
        if resource in sections["requests"] and resource in sections["limits"]:
            request, limit = sections["requests"][resource], sections["limits"][resource]
            if parse_quantity(request) > parse_quantity(limit):
                raise InjectionError(
                    f"annotation {_RESOURCE_ANNOTATIONS['requests', resource]}: {request} is more than "
                    f"the {resource} limit {limit} (annotation {_RESOURCE_ANNOTATIONS['limits', resource]})"
                )
    return Overrides(
        image=image, log_level=log_level, requests=sections["requests"], limits=sections["limits"]
    )


def is_injected(pod: Mapping[str, Any]) -> bool:
    """The Pod has the sidecar already: a container or init container by its name, or the annotation."""
    spec = pod.get("spec") or {}
    for field in ("initContainers", "containers"):
        if any(c.get("name") == keys.SIDECAR_CONTAINER for c in spec.get(field) or ()):
            return True
    return keys.INJECTED_ANNOTATION in ((pod.get("metadata") or {}).get("annotations") or {})


def skip_reason(pod: Mapping[str, Any]) -> str | None:
    """Why ``patch`` leaves this Pod alone (``SKIP_ALREADY_INJECTED``, ``SKIP_HOST_NETWORK``), or None."""
    if is_injected(pod):
        return SKIP_ALREADY_INJECTED
    if (pod.get("spec") or {}).get("hostNetwork") is True:
        return SKIP_HOST_NETWORK
    return None


def patch(pod: Mapping[str, Any], config: model.EffectiveConfig) -> list[dict[str, Any]]:
    """The JSON Patch that injects the sidecar into ``pod``; ``[]`` when ``skip_reason(pod)``.

    Raises ``InjectionError`` (deny the Pod) for a bad override annotation, a volume name or
    container port the sidecar needs and the Pod already uses, or an unusable resource.
    """
    if skip_reason(pod) is not None:
        return []
    metadata: Mapping[str, Any] = pod.get("metadata") or {}
    spec: Mapping[str, Any] | None = pod.get("spec")
    if not isinstance(spec, Mapping):
        raise InjectionError("spec: the Pod has no spec")
    containers: Sequence[Mapping[str, Any]] = spec.get("containers") or []
    if config.is_standalone:
        # Standalone mode: the shared Service's address, nothing else (no container, no volume).
        env_ops = _app_env_ops(containers, config.standalone_host, config.sidecar.grpc_port)
        return env_ops + _injected_metadata_ops(pod, config)
    pod_annotations: Mapping[str, str] = metadata.get("annotations") or {}
    init_containers: Sequence[Mapping[str, Any]] = spec.get("initContainers") or []
    volumes: Sequence[Mapping[str, Any]] = spec.get("volumes") or []

    sidecar = sidecar_container(config, overrides(pod_annotations))
    _check_conflicts(containers, init_containers, volumes, config)

    ops: list[dict[str, Any]] = []
    if spec.get("initContainers") is None:
        ops.append({"op": "add", "path": "/spec/initContainers", "value": [sidecar]})
    else:
        ops.append({"op": "add", "path": "/spec/initContainers/0", "value": sidecar})

    new_volumes = sidecar_volumes(config)
    if spec.get("volumes") is None:
        ops.append({"op": "add", "path": "/spec/volumes", "value": new_volumes})
    else:
        ops.extend({"op": "add", "path": "/spec/volumes/-", "value": volume} for volume in new_volumes)

    ops.extend(_app_env_ops(containers, "localhost", config.sidecar.grpc_port))
    return ops + _injected_metadata_ops(pod, config)


def sidecar_volumes(config: model.EffectiveConfig) -> list[dict[str, Any]]:
    """The defaults ConfigMap (as a directory, optional) and the state ``emptyDir``."""
    return [
        {"name": keys.DEFAULTS_VOLUME, "configMap": {"name": config.configmap_name, "optional": True}},
        {"name": keys.STATE_VOLUME, "emptyDir": {"sizeLimit": STATE_SIZE_LIMIT}},
    ]


def _app_env_ops(containers: Sequence[Mapping[str, Any]], host: str, port: int) -> list[dict[str, Any]]:
    """Tell every app container where the sidecar is, without overriding what it sets itself."""
    app_env = {keys.APP_HOST_ENV: host, keys.APP_PORT_ENV: str(port)}
    ops: list[dict[str, Any]] = []
    for index, container in enumerate(containers):
        env = container.get("env")
        defined = {entry.get("name") for entry in env or ()}
        missing = [{"name": name, "value": value} for name, value in app_env.items() if name not in defined]
        if env is None:
            ops.append({"op": "add", "path": f"/spec/containers/{index}/env", "value": missing})
        else:
            ops.extend({"op": "add", "path": f"/spec/containers/{index}/env/-", "value": e} for e in missing)
    return ops


def _injected_metadata_ops(pod: Mapping[str, Any], config: model.EffectiveConfig) -> list[dict[str, Any]]:
    """Record the injection: the annotation (resource and wiring hash) and the label."""
    ops: list[dict[str, Any]] = []
    metadata: Mapping[str, Any] = pod.get("metadata") or {}
    injected_annotation = {keys.INJECTED_ANNOTATION: injected_value(config)}
    injected_label = {keys.INJECTED_LABEL: "true"}
    if pod.get("metadata") is None:
        ops.append(
            {
                "op": "add",
                "path": "/metadata",
                "value": {"annotations": injected_annotation, "labels": injected_label},
            }
        )
    else:
        ops.extend(_add_to_map(metadata, "annotations", injected_annotation))
        ops.extend(_add_to_map(metadata, "labels", injected_label))
    return ops


def injected_value(config: model.EffectiveConfig) -> str:
    """The value of the injected annotation: which resource, and which wiring of it."""
    return f"{config.ref}@{config.wiring_hash()}"


def sidecar_container(config: model.EffectiveConfig, pod_overrides: Overrides) -> dict[str, Any]:
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
        raise InjectionError(
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
    if config.defaults:
        # The same defaults as the mounted ConfigMap, which takes precedence while it exists: this
        # covers the first seconds of a brand-new resource, and of the first Pod cluster-default
        # serves in a namespace (the operator copies its ConfigMap there within a status interval).
        put("ENTITLEMENTS_FALLBACK", json.dumps(dict(config.defaults), sort_keys=True, separators=(",", ":")))
    return env


def _quantity(raw: str, source: str) -> fractions.Fraction:
    try:
        value = parse_quantity(raw)
    except ValueError as error:
        raise InjectionError(
            f"{source}: must be a Kubernetes quantity such as 100m, 0.5, 128Mi or 1e3, got {raw!r}"
            + ("" if str(error) == _NOT_A_QUANTITY else f" ({error})")
        ) from None
    if value < 0:
        raise InjectionError(f"{source}: must not be negative, got {raw!r}")
    return value


def _resources(config: model.EffectiveConfig, pod_overrides: Overrides) -> dict[str, dict[str, str]]:
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
            sources[section, resource] = f"annotation {_RESOURCE_ANNOTATIONS[section, resource]}"
    for resource in ("cpu", "memory"):
        request = merged.get("requests", {}).get(resource)
        limit = merged.get("limits", {}).get(resource)
        if request is None or limit is None:
            continue
        request_source, limit_source = sources["requests", resource], sources["limits", resource]
        if _quantity(request, request_source) > _quantity(limit, limit_source):
            if limit_source.startswith("annotation") and not request_source.startswith("annotation"):
                raise InjectionError(
                    f"{limit_source}: {limit} is less than the {resource} request {request} "
                    f"({request_source})"
                )
            raise InjectionError(
                f"{request_source}: {request} is more than the {resource} limit {limit} ({limit_source})"
            )
    return {section: values for section, values in merged.items() if values}


def _check_conflicts(
    containers: Sequence[Mapping[str, Any]],
    init_containers: Sequence[Mapping[str, Any]],
    volumes: Sequence[Mapping[str, Any]],
    config: model.EffectiveConfig,
) -> None:
    """Deny a Pod that already uses a volume name or a port the sidecar needs.

    Init containers count too: the sidecar starts first, so it runs beside them in the Pod's
    network namespace.
    """
    for volume in volumes:
        if volume.get("name") in (keys.DEFAULTS_VOLUME, keys.STATE_VOLUME):
            raise InjectionError(
                f"spec.volumes: the Pod already has a volume named {volume['name']!r}, "
                "which the sidecar needs"
            )
    sidecar_ports = {
        config.sidecar.grpc_port: "gRPC (spec.sidecar.grpcPort)",
        config.sidecar.http_port: "HTTP probes and metrics (spec.sidecar.httpPort)",
    }
    for field, kind, listed in (
        ("containers", "container", containers),
        ("initContainers", "init container", init_containers),
    ):
        for container in listed:
            for port in container.get("ports") or ():
                number = port.get("containerPort")
                if number in sidecar_ports:
                    raise InjectionError(
                        f"spec.{field}: {kind} {container.get('name')!r} declares containerPort {number}, "
                        f"which the sidecar uses for {sidecar_ports[number]}"
                    )


def _add_to_map(metadata: Mapping[str, Any], field: str, entries: Mapping[str, str]) -> list[dict[str, Any]]:
    """Set ``entries`` in ``metadata.<field>``, adding the whole map when the Pod has none."""
    if metadata.get(field) is None:
        return [{"op": "add", "path": f"/metadata/{field}", "value": dict(entries)}]
    return [
        {"op": "add", "path": f"/metadata/{field}/{_pointer_token(k)}", "value": v}
        for k, v in entries.items()
    ]


def _pointer_token(key: str) -> str:
    """``key`` as one RFC 6901 reference token."""
    return key.replace("~", "~0").replace("/", "~1")

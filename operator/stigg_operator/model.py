"""The operator's pure core: typed StiggEntitlements specs, cluster-default inheritance, which
resource serves a Pod, and the effective configuration.

No I/O, no kopf. ``merge_specs`` overlays a namespace's spec on the cluster-default's: mappings
merge field by field (recursively), ``defaults`` merges feature by feature (a feature the
namespace names replaces the cluster's entry for that feature whole; the other features are
inherited), and lists and scalars are replaced; ``inherited_spec`` applies it to any resource
but cluster-default itself (the one place that rule is written). ``select`` is the rule for
which resource serves a Pod, over the operator's index of resources: the one the Pod's
``sidecar.stigg.io/config`` annotation names, else its namespace's only one, else
cluster-default; when none can, ``NoServingResource`` says why and what to do (the webhook
denies the Pod with it, the drift scan skips the Pod). ``effective`` turns the merged spec into
an ``EffectiveConfig``: everything the reconciler and the injector need, with the operator's
own defaults (the sidecar image ``SIDECAR_IMAGE``, ports) filled in. A spec the CRD schema
admitted but that cannot be used (no API key Secret anywhere in the chain; or one the
apiserver or the kernel would refuse once rendered, by ``limits``: a bad quantity or image, a
name too long, defaults over a ConfigMap's 1 MiB) raises ``SpecError``, naming the field, which
the reconciler reports as a status condition and the webhook as a denial.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from stigg_operator import keys, limits

Spec = Mapping[str, Any]

SIDECAR_IMAGE = "ghcr.io/stigg-entitlements/sidecar:0.1.0"  # injected unless a resource or Pod says otherwise


ResourceKey = tuple[str, str]  # (namespace, name) of a StiggEntitlements
# The operator's index of resources: (namespace, name) → its entries, each with its "spec".
Resources = Mapping[Any, Iterable[Mapping[str, Any]]]


class SpecError(ValueError):
    """The effective spec cannot be used; the message names the field (``spec.apiKeySecretRef``)."""


class NoServingResource(LookupError):
    """No StiggEntitlements serves the Pod; the message says why, and what a person can do."""


@dataclasses.dataclass(frozen=True)
class Selection:
    """The resource that serves a Pod, and its spec with cluster-default merged in."""

    namespace: str
    name: str
    spec: Spec


@dataclasses.dataclass(frozen=True)
class SecretKeyRef:
    name: str
    key: str


@dataclasses.dataclass(frozen=True)
class RedisConfig:
    host: str
    port: int
    environment_prefix: str
    db: int = 0
    tls: bool = False
    password: SecretKeyRef | None = None
    keys_ttl_seconds: int | None = None


@dataclasses.dataclass(frozen=True)
class SidecarContainerConfig:
    image: str
    image_pull_policy: str = "IfNotPresent"
    # Both clear of the ports apps commonly use (80, 443, 3000, 5000, 8000, 8080, 8443, 9000, 9090)
    # and of every known sidecar's and agent's (injection.known_ports: Istio's 15000-15090,
    # Linkerd's 4140-4191, Dapr's 3500/50001/50002, Consul's 19000-21000...), below the Linux
    # ephemeral range for the HTTP port; 50051 is gRPC's conventional port, which none of them binds.
    grpc_port: int = 50051
    http_port: int = 18020
    log_level: str = "info"
    resources: Mapping[str, Mapping[str, str]] = dataclasses.field(
        default_factory=lambda: {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}}
    )


SIDECAR_MODE = "Sidecar"
STANDALONE_MODE = "Standalone"


@dataclasses.dataclass(frozen=True)
class Autoscaling:
    min_replicas: int
    max_replicas: int
    target_cpu_utilization: int = 80


@dataclasses.dataclass(frozen=True)
class StandaloneConfig:
    """The shared sidecar Deployment of standalone mode."""

    replicas: int = 2
    min_available: int = 1
    autoscaling: Autoscaling | None = None


@dataclasses.dataclass(frozen=True)
class OperatorDefaults:
    """What the operator itself contributes when no resource says otherwise."""

    sidecar_image: str = SIDECAR_IMAGE
    failure_policy: str = "Fail"


@dataclasses.dataclass(frozen=True)
class EffectiveConfig:
    """One StiggEntitlements resource's configuration, cluster-default merged in."""

    namespace: str
    name: str
    api_key: SecretKeyRef
    sidecar: SidecarContainerConfig
    defaults: Mapping[str, Mapping[str, Any]]
    api_url: str | None = None
    edge_enabled: bool | None = None
    edge_api_url: str | None = None
    realtime: bool | None = None
    ws_url: str | None = None
    offline: bool = False
    cache_max_size_bytes: int | None = None
    cache_ttl_seconds: int | None = None
    redis: RedisConfig | None = None
    failure_policy: str = "Fail"
    mode: str = SIDECAR_MODE
    standalone: StandaloneConfig = dataclasses.field(default_factory=StandaloneConfig)
    rollout_on_change: bool = False
    repair_missing_sidecars: bool = False

    @property
    def configmap_name(self) -> str:
        return keys.configmap_name(self.name)

    @property
    def is_standalone(self) -> bool:
        return self.mode == STANDALONE_MODE

    @property
    def standalone_name(self) -> str:
        return keys.standalone_name(self.name)

    @property
    def standalone_host(self) -> str:
        """The shared Service's DNS name, as Pods in any namespace resolve it."""
        return f"{self.standalone_name}.{self.namespace}.svc"

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"

    def defaults_document(self) -> str:
        """The defaults file the sidecar reads (Stigg's ENTITLEMENTS_FALLBACK format), stable text."""
        return (
            json.dumps({k: dict(v) for k, v in sorted(self.defaults.items())}, indent=2, sort_keys=True)
            + "\n"
        )

    def env_defaults(self) -> str | None:
        """The defaults as the sidecar's ``ENTITLEMENTS_FALLBACK`` env, or None when there are none
        or they are over ``limits.ENV_DEFAULTS_BUDGET`` (the mounted ConfigMap carries them)."""
        return limits.env_defaults(self.defaults)

    def wiring_hash(self) -> str:
        """A digest of everything injected into Pods except the default values (which reach running
        sidecars through the mounted ConfigMap, no restart needed)."""
        wiring = dataclasses.asdict(self)
        wiring.pop("defaults")
        # Settings of the operator's own behaviour, and of the shared Deployment: never in a Pod.
        for field in ("failure_policy", "rollout_on_change", "repair_missing_sidecars", "standalone"):
            wiring.pop(field)
        return hashlib.sha256(json.dumps(wiring, sort_keys=True, default=str).encode()).hexdigest()[:12]


def merge_specs(base: Spec, override: Spec) -> dict[str, Any]:
    """``override`` over ``base``: mappings field by field, ``defaults`` feature by feature."""
    merged: dict[str, Any] = dict(base)
    for key, value in override.items():
        if key == "defaults" and isinstance(value, Mapping) and isinstance(base.get(key), Mapping):
            merged[key] = {**base[key], **value}
        elif isinstance(value, Mapping) and isinstance(base.get(key), Mapping):
            merged[key] = merge_specs(base[key], value)
        else:
            merged[key] = value
    return merged


def cluster_default_key(operator_namespace: str) -> ResourceKey:
    return (operator_namespace, keys.CLUSTER_DEFAULT_NAME)


def inherited_spec(operator_namespace: str, key: ResourceKey, spec: Spec, resources: Resources) -> Spec:
    """``spec`` (of the resource ``key``) with cluster-default's merged under it; cluster-default's own
    spec as it is."""
    default_key = cluster_default_key(operator_namespace)
    if key != default_key:
        for base in resources.get(default_key, []):
            spec = merge_specs(base["spec"], spec)
    return spec


def select(
    operator_namespace: str, namespace: str, pod_annotations: Mapping[str, str], resources: Resources
) -> Selection:
    """The resource that serves a Pod of ``namespace``; ``NoServingResource`` if none does.

    The one the annotation ``sidecar.stigg.io/config`` names (in the Pod's namespace), else the
    namespace's only one (cluster-default does not count in its own namespace), else
    cluster-default.
    """
    default_key = cluster_default_key(operator_namespace)
    named = pod_annotations.get(keys.CONFIG_ANNOTATION)
    if named:
        key = (namespace, named)
        if key not in resources:
            raise NoServingResource(
                f"annotation {keys.CONFIG_ANNOTATION}: no StiggEntitlements {namespace}/{named}"
            )
    else:
        local = sorted(name for (ns, name) in resources if ns == namespace)
        if namespace == operator_namespace:
            local = [name for name in local if name != keys.CLUSTER_DEFAULT_NAME]
        if len(local) == 1:
            key = (namespace, local[0])
        elif len(local) > 1:
            raise NoServingResource(
                f"namespace {namespace} has several StiggEntitlements ({', '.join(local)}): "
                f"choose one with the annotation {keys.CONFIG_ANNOTATION}"
            )
        elif default_key in resources:
            key = default_key
        else:
            raise NoServingResource(
                f"no StiggEntitlements in namespace {namespace} and no {keys.CLUSTER_DEFAULT_NAME} in "
                f"{operator_namespace}: create one to configure the sidecar, or opt the Pod out with the "
                f"label {keys.POD_INJECT_LABEL}=false"
            )
    (entry, *_) = list(resources[key])
    return Selection(key[0], key[1], inherited_spec(operator_namespace, key, entry["spec"], resources))


def _secret_ref(raw: object, field: str, default_key: str) -> SecretKeyRef | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping) or not raw.get("name"):
        raise SpecError(f"{field}.name: required")
    return SecretKeyRef(name=str(raw["name"]), key=str(raw.get("key") or default_key))


def effective(namespace: str, name: str, spec: Spec, operator: OperatorDefaults) -> EffectiveConfig:
    """The merged spec (``merge_specs`` already applied) as an ``EffectiveConfig``."""
    api_key = _secret_ref(spec.get("apiKeySecretRef"), "spec.apiKeySecretRef", "SERVER_API_KEY")
    offline = bool(spec.get("offline", False))
    if api_key is None and not offline:
        raise SpecError(
            "spec.apiKeySecretRef: required here or in cluster-default (unless spec.offline is true)"
        )
    upstream: Mapping[str, Any] = spec.get("upstream") or {}
    cache: Mapping[str, Any] = spec.get("cache") or {}
    redis_raw: Mapping[str, Any] | None = cache.get("redis")
    redis = None
    if redis_raw:
        redis = RedisConfig(
            host=str(redis_raw["host"]),
            port=int(redis_raw.get("port", 6379)),
            environment_prefix=str(redis_raw["prefix"]),
            db=int(redis_raw.get("db", 0)),
            tls=bool(redis_raw.get("tls", False)),
            password=_secret_ref(
                redis_raw.get("passwordSecretRef"), "spec.cache.redis.passwordSecretRef", "password"
            ),
            keys_ttl_seconds=redis_raw.get("keysTtlSeconds"),
        )
    sidecar_raw: Mapping[str, Any] = spec.get("sidecar") or {}
    base = SidecarContainerConfig(image=operator.sidecar_image)
    sidecar = SidecarContainerConfig(
        image=str(sidecar_raw.get("image") or base.image),
        image_pull_policy=str(sidecar_raw.get("imagePullPolicy") or base.image_pull_policy),
        grpc_port=int(sidecar_raw.get("grpcPort") or base.grpc_port),
        http_port=int(sidecar_raw.get("httpPort") or base.http_port),
        log_level=str(sidecar_raw.get("logLevel") or base.log_level),
        resources={
            section: {name: str(quantity) for name, quantity in values.items()}
            for section, values in (sidecar_raw.get("resources") or base.resources).items()
        },
    )
    if sidecar.grpc_port == sidecar.http_port:
        raise SpecError("spec.sidecar.httpPort: must differ from spec.sidecar.grpcPort")
    _check(limits.image_problem(sidecar.image) if sidecar_raw.get("image") else None)
    _check(limits.resources_problem(sidecar.resources))
    injection: Mapping[str, Any] = spec.get("injection") or {}
    mode = str(spec.get("mode") or SIDECAR_MODE)
    mode = {m.lower(): m for m in (SIDECAR_MODE, STANDALONE_MODE)}.get(mode.lower(), mode)
    if mode not in (SIDECAR_MODE, STANDALONE_MODE):
        raise SpecError(f"spec.mode: must be {SIDECAR_MODE} or {STANDALONE_MODE}, got {mode!r}")
    _check(limits.name_problem(name, standalone=mode == STANDALONE_MODE))
    config = EffectiveConfig(
        namespace=namespace,
        name=name,
        api_key=api_key or SecretKeyRef("", ""),
        sidecar=sidecar,
        defaults={str(k): dict(v) for k, v in (spec.get("defaults") or {}).items()},
        api_url=upstream.get("apiUrl"),
        edge_enabled=upstream.get("edgeEnabled"),
        edge_api_url=upstream.get("edgeApiUrl"),
        realtime=upstream.get("realtime"),
        ws_url=upstream.get("wsUrl"),
        offline=offline,
        cache_max_size_bytes=cache.get("maxSizeBytes"),
        cache_ttl_seconds=cache.get("ttlSeconds"),
        redis=redis,
        failure_policy=str(injection.get("failurePolicy") or operator.failure_policy),
        mode=mode,
        standalone=_standalone(spec.get("standalone") or {}),
        rollout_on_change=bool(spec.get("rolloutOnChange", False)),
        repair_missing_sidecars=bool(spec.get("repairMissingSidecars", False)),
    )
    _check(limits.configmap_problem({keys.DEFAULTS_FILE: config.defaults_document()}))
    return config


def _check(problem: str | None) -> None:
    """A problem of ``limits`` (``<field>: <what>``) as the ``SpecError`` it is."""
    if problem is not None:
        raise SpecError(problem)


def _standalone(raw: Mapping[str, Any]) -> StandaloneConfig:
    scaling: Mapping[str, Any] | None = raw.get("autoscaling")
    autoscaling = None
    if scaling:
        autoscaling = Autoscaling(
            min_replicas=int(scaling.get("minReplicas", 2)),
            max_replicas=int(scaling["maxReplicas"]),
            target_cpu_utilization=int(scaling.get("targetCPUUtilizationPercentage", 80)),
        )
        if autoscaling.max_replicas < autoscaling.min_replicas:
            raise SpecError("spec.standalone.autoscaling.maxReplicas: must be at least minReplicas")
    standalone = StandaloneConfig(
        replicas=int(raw.get("replicas", 2)),
        min_available=int(raw.get("minAvailable", 1)),
        autoscaling=autoscaling,
    )
    floor = autoscaling.min_replicas if autoscaling else standalone.replicas
    if standalone.min_available > floor:
        raise SpecError(
            f"spec.standalone.minAvailable: {standalone.min_available} is more than the {floor} replicas, "
            "so the PodDisruptionBudget could never be met"
        )
    return standalone

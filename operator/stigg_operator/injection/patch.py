"""JSON Patch assembly, the patcher's entry point: a Pod and an ``EffectiveConfig`` → RFC 6902 ops.

Pure. ``skip_reason`` says whether a Pod is left alone: one that has the sidecar or the
injected annotation already (injection is idempotent), one opted out by the annotation
``sidecar.stigg.io/inject: "false"`` (the label of that name is matched by the webhook
configuration's selector and never arrives here; the annotation, which a selector cannot see,
is honoured here, as Istio honours both forms), a ``hostNetwork`` Pod (its ports would be the
node's, shared by every such Pod on it), or a Windows Pod (``spec.os.name`` or the
``kubernetes.io/os`` node selector: the sidecar image is Linux-only, and a Windows node would
refuse its Linux securityContext fields). ``build`` is the whole rule: ``[]`` for a
skipped Pod, else ``assemble``, which the webhook calls directly once it has asked
``skip_reason`` itself (so an admission evaluates it once, before choosing a resource).

In Sidecar mode the patch inserts the sidecar (``template``) first in ``spec.initContainers``,
or right after a known sidecar already there as a native sidecar (``sidecar_position``: after
Istio's ``istio-proxy``, whose iptables redirection then carries the sidecar's traffic from its
first connection), adds its volumes, and tells every app container and every init container
after it (they start once the native sidecar is up, so they may call it too) where it is
(``STIGG_SIDECAR_HOST``, ``STIGG_SIDECAR_PORT``), only where the container does not set them
itself: in ``env``, or through ``envFrom`` from a ConfigMap the webhook read (``envfrom``; an
``env`` entry would win over it). Where an ``envFrom`` source might set one and the webhook
cannot tell (a Secret, a ConfigMap missing or unread), the entry is added and ``assemble``
reports an admission warning naming the source. In Standalone mode it only points the app
containers at the shared Service. Either way the injection is recorded in the annotation
``sidecar.stigg.io/injected`` (``<namespace>/<name>@<wiring hash>``, so a changed resource can be
told apart from the one a Pod was injected with) and the label ``sidecar.stigg.io/injected=true``
(for selectors). A volume name or container port (init containers too: the sidecar runs beside
them) that the sidecar needs and the Pod already uses denies the Pod (``InjectionError``); a
port counts as used when a container declares it, or when a known sidecar or agent in the Pod
(``known_ports``: Istio's ``istio-proxy``, Dapr's ``daprd``...) binds it without declaring it.

The patch is valid against the Pod exactly as given: a missing list or map
(``spec.initContainers``, ``spec.volumes``, a container's ``env``, ``metadata.annotations``,
``metadata.labels``) is added whole, since an ``add`` below a missing parent fails. Map keys are
escaped as JSON Pointer tokens (``/`` as ``~1``, ``~`` as ``~0``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from stigg_operator import keys, model
from stigg_operator.injection import envfrom, errors, known_ports, overrides, template

SKIP_ALREADY_INJECTED: Final = "already injected"
SKIP_OPTED_OUT: Final = f'the Pod\'s annotation {keys.POD_INJECT_LABEL} is "false"'
SKIP_HOST_NETWORK: Final = "hostNetwork Pod"
SKIP_WINDOWS: Final = "a Windows Pod (the sidecar image is Linux-only)"
OS_NODE_LABEL: Final = "kubernetes.io/os"

Operation = dict[str, Any]


def is_injected(pod: Mapping[str, Any]) -> bool:
    """The Pod has the sidecar already: a container or init container by its name, or the annotation."""
    spec = pod.get("spec") or {}
    for field in ("initContainers", "containers"):
        if any(c.get("name") == keys.SIDECAR_CONTAINER for c in spec.get(field) or ()):
            return True
    return keys.INJECTED_ANNOTATION in ((pod.get("metadata") or {}).get("annotations") or {})


def skip_reason(pod: Mapping[str, Any]) -> str | None:
    """Why this Pod is left alone (one of the ``SKIP_*`` texts), or None."""
    if is_injected(pod):
        return SKIP_ALREADY_INJECTED
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    if str(annotations.get(keys.POD_INJECT_LABEL, "")).strip().lower() == "false":
        return SKIP_OPTED_OUT
    spec: Mapping[str, Any] = pod.get("spec") or {}
    if spec.get("hostNetwork") is True:
        return SKIP_HOST_NETWORK
    os_name = (spec.get("os") or {}).get("name") or (spec.get("nodeSelector") or {}).get(OS_NODE_LABEL)
    if str(os_name or "").lower() == "windows":
        return SKIP_WINDOWS
    return None


def build(pod: Mapping[str, Any], config: model.EffectiveConfig) -> list[Operation]:
    """The JSON Patch that injects the sidecar into ``pod``; ``[]`` when ``skip_reason(pod)``.

    Raises ``InjectionError`` (deny the Pod) for a bad override annotation, a volume name or
    container port the sidecar needs and the Pod already uses, or an unusable resource.
    """
    if skip_reason(pod) is not None:
        return []
    return assemble(pod, config)


def assemble(
    pod: Mapping[str, Any],
    config: model.EffectiveConfig,
    *,
    configmaps: envfrom.Lookups | None = None,
    warnings: list[str] | None = None,
) -> list[Operation]:
    """``build`` for a Pod ``skip_reason`` already let through (it is not asked again).

    ``configmaps`` is what the webhook read of the ConfigMaps ``envfrom.configmaps_to_read``
    named (without it, none was read: every ConfigMap source is unknown); a warning for each
    env entry added although an ``envFrom`` source might set it is appended to ``warnings``.
    """
    lookups: envfrom.Lookups = configmaps or {}
    told: list[str] = warnings if warnings is not None else []
    metadata: Mapping[str, Any] = pod.get("metadata") or {}
    spec: Mapping[str, Any] | None = pod.get("spec")
    if not isinstance(spec, Mapping):
        raise errors.InjectionError("spec: the Pod has no spec")
    containers: Sequence[Mapping[str, Any]] = spec.get("containers") or []
    init_containers: Sequence[Mapping[str, Any]] = spec.get("initContainers") or []
    if config.is_standalone:
        # Standalone mode: the shared Service's address, nothing else (no container, no volume).
        host, port = config.standalone_host, config.sidecar.grpc_port
        env_ops = _app_env_ops("containers", containers, host, port, lookups=lookups, warnings=told)
        env_ops += _app_env_ops("initContainers", init_containers, host, port, lookups=lookups, warnings=told)
        return env_ops + _injected_metadata_ops(pod, config)
    pod_annotations: Mapping[str, str] = metadata.get("annotations") or {}
    volumes: Sequence[Mapping[str, Any]] = spec.get("volumes") or []

    sidecar = template.sidecar_container(config, overrides.from_annotations(pod_annotations))
    _check_conflicts(containers, init_containers, volumes, config)

    ops: list[Operation] = []
    position = sidecar_position(init_containers)
    if spec.get("initContainers") is None:
        ops.append({"op": "add", "path": "/spec/initContainers", "value": [sidecar]})
    else:
        ops.append({"op": "add", "path": f"/spec/initContainers/{position}", "value": sidecar})

    new_volumes = template.sidecar_volumes(config)
    if spec.get("volumes") is None:
        ops.append({"op": "add", "path": "/spec/volumes", "value": new_volumes})
    else:
        ops.extend({"op": "add", "path": "/spec/volumes/-", "value": volume} for volume in new_volumes)

    port = config.sidecar.grpc_port
    ops.extend(_app_env_ops("containers", containers, "localhost", port, lookups=lookups, warnings=told))
    # The init containers the sidecar starts before, each now one place further.
    after = init_containers[position:]
    ops.extend(
        _app_env_ops(
            "initContainers", after, "localhost", port, lookups=lookups, warnings=told, shift=position + 1
        )
    )
    return ops + _injected_metadata_ops(pod, config)


def sidecar_position(init_containers: Sequence[Mapping[str, Any]]) -> int:
    """Where the sidecar goes in ``spec.initContainers``: first, or right after the last known
    sidecar running as a native sidecar (Istio's ``istio-proxy``), so that the kubelet starts
    it once that proxy is started and its traffic is the mesh's from its first connection."""
    after = [
        index + 1
        for index, container in enumerate(init_containers)
        if _is_native_sidecar(container) and known_ports.recognise(container) is not None
    ]
    return max(after, default=0)


def _is_native_sidecar(container: Mapping[str, Any]) -> bool:
    return container.get("restartPolicy") == "Always"


def _app_env_ops(
    field: str,
    containers: Sequence[Mapping[str, Any]],
    host: str,
    port: int,
    *,
    lookups: envfrom.Lookups,
    warnings: list[str],
    shift: int = 0,
) -> list[Operation]:
    """Tell every container of ``spec.<field>`` (at its index + ``shift``) where the sidecar is,
    without overriding what it sets itself (in ``env``, or through ``envFrom`` as far as
    ``lookups`` tell); a warning in ``warnings`` where an ``envFrom`` source might set it."""
    app_env = {keys.APP_HOST_ENV: host, keys.APP_PORT_ENV: str(port)}
    kind = "container" if field == "containers" else "init container"
    ops: list[Operation] = []
    for index, container in enumerate(containers, start=shift):
        env = container.get("env")
        defined = {entry.get("name") for entry in env or ()}
        missing: list[dict[str, str]] = []
        unsure: list[tuple[str, str]] = []
        sources: list[str] = []
        for name, value in app_env.items():
            if name in defined:
                continue
            verdict = envfrom.origin(container, name, lookups)
            if verdict.origin is envfrom.Origin.SET:
                continue  # the app's own value, from a ConfigMap the webhook read
            missing.append({"name": name, "value": value})
            if verdict.origin is envfrom.Origin.UNKNOWN:
                unsure.append((name, value))
                sources.extend(s for s in verdict.sources if s not in sources)
        if unsure:
            warnings.append(envfrom.warning(kind, str(container.get("name")), unsure, sources))
        if not missing:
            continue
        path = f"/spec/{field}/{index}/env"
        if env is None:
            ops.append({"op": "add", "path": path, "value": missing})
        else:
            ops.extend({"op": "add", "path": f"{path}/-", "value": e} for e in missing)
    return ops


def _injected_metadata_ops(pod: Mapping[str, Any], config: model.EffectiveConfig) -> list[Operation]:
    """Record the injection: the annotation (resource and wiring hash) and the label."""
    ops: list[Operation] = []
    metadata: Mapping[str, Any] = pod.get("metadata") or {}
    injected_annotation = {keys.INJECTED_ANNOTATION: template.injected_value(config)}
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


def _check_conflicts(
    containers: Sequence[Mapping[str, Any]],
    init_containers: Sequence[Mapping[str, Any]],
    volumes: Sequence[Mapping[str, Any]],
    config: model.EffectiveConfig,
) -> None:
    """Deny a Pod that already uses a volume name or a port the sidecar needs.

    Init containers count too: the sidecar starts first, so it runs beside them in the Pod's
    network namespace. A known sidecar or agent (``known_ports``: ``istio-proxy``, ``daprd``...)
    takes the ports it binds without declaring them as well.
    """
    for volume in volumes:
        if volume.get("name") in (keys.DEFAULTS_VOLUME, keys.STATE_VOLUME):
            raise errors.InjectionError(
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
                    raise errors.InjectionError(
                        f"spec.{field}: {kind} {container.get('name')!r} declares containerPort {number}, "
                        f"which the sidecar uses for {sidecar_ports[number]}"
                    )
            if field == "initContainers" and not _is_native_sidecar(container):
                continue  # runs to completion before the sidecar starts (istio-init binds nothing)
            known = known_ports.recognise(container)
            for number, what in known_ports.undeclared_ports(container).items():
                if number in sidecar_ports and known is not None:
                    raise errors.InjectionError(
                        f"spec.{field}: port {number} is {known.name}'s {what} ({kind} "
                        f"{container.get('name')!r} binds it without declaring it), which the sidecar "
                        f"uses for {sidecar_ports[number]}; set that field to a port {known.name} leaves free"
                    )


def _add_to_map(metadata: Mapping[str, Any], field: str, entries: Mapping[str, str]) -> list[Operation]:
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

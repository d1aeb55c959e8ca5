"""What Kubernetes and Linux accept of what the operator renders from a spec, checked on the spec.

Pure. The CRD schema admits specs that fail only once rendered: the apiserver refuses the
mutated Pod (a negative or malformed quantity, a request above its limit), the defaults
ConfigMap (data over 1 MiB, a name or label value too long) or Standalone mode's Service (a
name that is no DNS-1035 label), or the kernel refuses to start the container (one env var
over ``MAX_ARG_STRLEN``). ``model.effective`` runs these checks so that each becomes a
``SpecError``, and so ``Ready=False`` with reason ``InvalidSpec``, before any Pod is refused.
Each check returns its problem as ``<field>: <what is wrong>`` (or None); quantities and image
references are read by ``injection.grammar``, as the injector reads the per-Pod annotations.

The defaults also travel in the sidecar's env (``ENTITLEMENTS_FALLBACK``: the first seconds of
a brand-new resource, and of the first Pod cluster-default serves in a namespace, before the
ConfigMap is mounted) within ``ENV_DEFAULTS_BUDGET`` bytes; above it ``env_defaults`` leaves
them out (the mounted ConfigMap still carries them), which the status says as information.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final

from stigg_operator import keys
from stigg_operator.injection import grammar

CONFIGMAP_DATA_MAX: Final = 1024 * 1024  # the apiserver's limit on a ConfigMap's data, in bytes
MAX_ARG_STRLEN: Final = 131072  # Linux's limit on one "NAME=value" of a process's environment
ENV_DEFAULTS_BUDGET: Final = 32 * 1024  # bytes of ENTITLEMENTS_FALLBACK, well inside MAX_ARG_STRLEN
ENV_DEFAULTS_VAR: Final = "ENTITLEMENTS_FALLBACK"
LABEL_VALUE_MAX: Final = 63  # a label value, a DNS-1035 label (a Service's name)
DNS_SUBDOMAIN_MAX: Final = 253  # an object's name (a ConfigMap's, a Deployment's)

_DNS_1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_RESOURCE_SECTIONS: Final = ("requests", "limits")


def resources_problem(resources: Mapping[str, Mapping[str, str]]) -> str | None:
    """Every quantity of spec.sidecar.resources a non-negative Kubernetes quantity, every request
    no more than its limit (as the apiserver validates a container's resources)."""
    field = "spec.sidecar.resources"
    values: dict[tuple[str, str], Any] = {}
    for section, quantities in resources.items():
        if section not in _RESOURCE_SECTIONS:
            return f"{field}.{section}: not a section of a container's resources (requests, limits)"
        for name, raw in quantities.items():
            try:
                value = grammar.parse_quantity(raw)
            except ValueError as error:
                why = "" if str(error) == grammar.NOT_A_QUANTITY else f" ({error})"
                return (
                    f"{field}.{section}.{name}: {json.dumps(raw)} is not a Kubernetes quantity "
                    f"such as 100m, 0.5, 128Mi or 1e3{why}"
                )
            if value < 0:
                return f"{field}.{section}.{name}: {json.dumps(raw)} is negative"
            values[section, name] = value
    for section, name in values:
        if (
            section == "requests"
            and ("limits", name) in values
            and values["requests", name] > values["limits", name]
        ):
            return (
                f"{field}.requests.{name}: {json.dumps(resources['requests'][name])} is more than "
                f"the limit {json.dumps(resources['limits'][name])} ({field}.limits.{name})"
            )
    return None


def image_problem(image: str) -> str | None:
    """spec.sidecar.image an image reference (``[host[:port]/]path[:tag][@sha256:<digest>]``)."""
    problem = grammar.image_problem(image)
    return None if problem is None else f"spec.sidecar.image: {problem}"


def name_problem(name: str, *, standalone: bool) -> str | None:
    """The resource's name fits the names and labels rendered from it: the ConfigMap's name and
    its ``sidecar.stigg.io/config`` label (any mode), and in Standalone mode the shared objects'
    ``<name>-stigg-sidecar``, a Service's name (a DNS-1035 label) and a label value."""
    if len(keys.configmap_name(name)) > DNS_SUBDOMAIN_MAX:
        return (
            f"metadata.name: {len(name)} characters make the ConfigMap name {keys.configmap_name(name)!r} "
            f"longer than {DNS_SUBDOMAIN_MAX}"
        )
    if len(name) > LABEL_VALUE_MAX:
        return (
            f"metadata.name: {len(name)} characters, more than the {LABEL_VALUE_MAX} of a label value "
            f"(the ConfigMap's label {keys.GROUP}/config)"
        )
    if standalone:
        shared = keys.standalone_name(name)
        room = LABEL_VALUE_MAX - (len(shared) - len(name))
        if len(shared) > LABEL_VALUE_MAX:
            return (
                f"metadata.name: {len(name)} characters make the Standalone objects' name {shared!r} "
                f"{len(shared)} long, over the {LABEL_VALUE_MAX} of a Service name (DNS-1035 label): "
                f"Standalone mode takes names of at most {room} characters"
            )
        if not _DNS_1035_LABEL.fullmatch(shared):
            return (
                f"metadata.name: {name!r} makes the Standalone Service name {shared!r}, not a DNS-1035 "
                "label (lowercase letters, digits and '-', starting with a letter): rename the resource"
            )
    return None


def configmap_problem(data: Mapping[str, str]) -> str | None:
    """The rendered defaults ConfigMap's data within the apiserver's 1 MiB (of its values)."""
    size = sum(len(value.encode()) for value in data.values())
    if size > CONFIGMAP_DATA_MAX:
        return (
            f"spec.defaults: the rendered ConfigMap's data is {size} bytes, over the apiserver's "
            f"{CONFIGMAP_DATA_MAX} (1 MiB) for a ConfigMap: fewer features or enum values"
        )
    return None


def env_defaults(defaults: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The defaults as the ``ENTITLEMENTS_FALLBACK`` value (compact JSON), or None when over
    ``ENV_DEFAULTS_BUDGET`` bytes (or when there are none)."""
    if not defaults:
        return None
    text = env_defaults_text(defaults)
    return text if len(text.encode()) <= ENV_DEFAULTS_BUDGET else None


def env_defaults_text(defaults: Mapping[str, Mapping[str, Any]]) -> str:
    """The defaults as compact, stable JSON, whatever its size."""
    return json.dumps({k: dict(v) for k, v in defaults.items()}, sort_keys=True, separators=(",", ":"))

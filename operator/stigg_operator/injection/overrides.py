"""Per-Pod override annotations, validated into ``Overrides`` (pure).

A Pod may override the sidecar's image (``sidecar.stigg.io/image``), log level
(``.../log-level``) and CPU and memory requests and limits (``.../cpu-request``,
``.../cpu-limit``, ``.../memory-request``, ``.../memory-limit``). ``from_annotations`` checks
them the way Kubernetes would (``grammar``), a request no larger than its limit when both are
annotations (``template`` checks the pairs where one side comes from the resource), and raises
``InjectionError`` naming the first bad annotation. A present annotation is a request: an empty
value is an error, not "unset".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Final

from stigg_operator import keys
from stigg_operator.injection import errors, grammar

LOG_LEVELS: Final = ("error", "warn", "info", "debug")

# (section, resource) of the sidecar's resources → the annotation that overrides it.
RESOURCE_ANNOTATIONS: Final = {
    ("requests", "cpu"): keys.CPU_REQUEST_ANNOTATION,
    ("limits", "cpu"): keys.CPU_LIMIT_ANNOTATION,
    ("requests", "memory"): keys.MEMORY_REQUEST_ANNOTATION,
    ("limits", "memory"): keys.MEMORY_LIMIT_ANNOTATION,
}


@dataclasses.dataclass(frozen=True)
class Overrides:
    """The validated per-Pod override annotations; ``None`` or missing: not overridden."""

    image: str | None = None
    log_level: str | None = None
    requests: Mapping[str, str] = dataclasses.field(default_factory=dict)
    limits: Mapping[str, str] = dataclasses.field(default_factory=dict)


def from_annotations(pod_annotations: Mapping[str, str]) -> Overrides:
    """Validate the per-Pod override annotations; ``InjectionError`` names the first bad one.

    The log level is case-insensitive (like the sidecar's ``LOG_LEVEL``) and returned in lower
    case; quantities are returned as written.
    """
    image = pod_annotations.get(keys.IMAGE_ANNOTATION)
    if image is not None:
        problem = grammar.image_problem(image)
        if problem:
            raise errors.InjectionError(f"annotation {keys.IMAGE_ANNOTATION}: {problem}")

    log_level = pod_annotations.get(keys.LOG_LEVEL_ANNOTATION)
    if log_level is not None:
        if log_level.strip().lower() not in LOG_LEVELS:
            raise errors.InjectionError(
                f"annotation {keys.LOG_LEVEL_ANNOTATION}: must be one of {', '.join(LOG_LEVELS)}, "
                f"got {log_level!r}"
            )
        log_level = log_level.strip().lower()

    sections: dict[str, dict[str, str]] = {"requests": {}, "limits": {}}
    for (section, resource), annotation in RESOURCE_ANNOTATIONS.items():
        raw = pod_annotations.get(annotation)
        if raw is None:
            continue
        grammar.quantity(raw, f"annotation {annotation}")
        sections[section][resource] = raw
    for resource in ("cpu", "memory"):
        if resource in sections["requests"] and resource in sections["limits"]:
            request, limit = sections["requests"][resource], sections["limits"][resource]
            if grammar.parse_quantity(request) > grammar.parse_quantity(limit):
                raise errors.InjectionError(
                    f"annotation {RESOURCE_ANNOTATIONS['requests', resource]}: {request} is more than "
                    f"the {resource} limit {limit} (annotation {RESOURCE_ANNOTATIONS['limits', resource]})"
                )
    return Overrides(
        image=image, log_level=log_level, requests=sections["requests"], limits=sections["limits"]
    )

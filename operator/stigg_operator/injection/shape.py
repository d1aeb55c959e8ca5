"""The shape of a Pod as the patcher reads it, checked before anything else reads it.

Pure. The apiserver decodes a Pod into its typed form before admission, so a Pod it sends is
well formed; an AdmissionReview posted to the webhook by anything else need not be. Without
this check, such an object fails deep in the patcher with a Python message (``'str' object has
no attribute 'get'``); with it, the denial names the field and says what it must be, in words:
``spec.containers[1].env: must be a list, got a string``.

``problem(pod)`` returns that sentence for the first field out of shape, or None. It checks
only what ``patch`` and ``overrides`` read: ``metadata`` (its ``annotations`` and ``labels``
maps of strings), ``spec`` (``containers`` and ``initContainers`` as lists of objects with a
string ``name``, and in each ``env``, ``envFrom`` and ``ports`` as lists of objects,
``containerPort`` an integer, an ``envFrom`` source's ``configMapRef`` and ``secretRef``
objects and its ``prefix`` a string; ``volumes`` a list of objects; ``os`` and
``nodeSelector`` objects).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_KINDS = {
    str: "a string",
    bool: "a boolean",
    int: "a number",
    float: "a number",
    list: "a list",
    type(None): "null",
}


def _kind(value: object) -> str:
    if isinstance(value, Mapping):
        return "an object"
    return _KINDS.get(type(value), type(value).__name__)


def _list_of_objects(value: object, path: str) -> str | None:
    """``path`` must be absent (None), or a list whose items are objects."""
    if value is None:
        return None
    if not isinstance(value, list):
        return f"{path}: must be a list, got {_kind(value)}"
    for index, item in enumerate(value):
        if not isinstance(item, Mapping):
            return f"{path}[{index}]: must be an object, got {_kind(item)}"
    return None


def _object(value: object, path: str) -> str | None:
    if value is None or isinstance(value, Mapping):
        return None
    return f"{path}: must be an object, got {_kind(value)}"


def _string_map(value: object, path: str) -> str | None:
    """``path`` must be absent (None), or an object whose values are strings."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        return f"{path}: must be an object, got {_kind(value)}"
    for key, item in value.items():
        if not isinstance(item, str):
            return f"{path}[{key!r}]: must be a string, got {_kind(item)}"
    return None


def _container(container: Mapping[str, Any], path: str) -> str | None:
    if not isinstance(container.get("name"), str):
        return f"{path}.name: must be a string, got {_kind(container.get('name'))}"
    for field in ("env", "envFrom", "ports"):
        if (found := _list_of_objects(container.get(field), f"{path}.{field}")) is not None:
            return found
    for index, source in enumerate(container.get("envFrom") or ()):
        for field in ("configMapRef", "secretRef"):
            if (found := _object(source.get(field), f"{path}.envFrom[{index}].{field}")) is not None:
                return found
        prefix = source.get("prefix")
        if prefix is not None and not isinstance(prefix, str):
            return f"{path}.envFrom[{index}].prefix: must be a string, got {_kind(prefix)}"
    for index, port in enumerate(container.get("ports") or ()):
        number = port.get("containerPort")
        if number is not None and (isinstance(number, bool) or not isinstance(number, int)):
            return f"{path}.ports[{index}].containerPort: must be an integer, got {_kind(number)}"
    return None


def problem(pod: object) -> str | None:
    """The first field of ``pod`` out of the shape the patcher reads, in a sentence; or None."""
    if not isinstance(pod, Mapping):
        return f"the object: must be a Pod (an object), got {_kind(pod)}"
    metadata, spec = pod.get("metadata"), pod.get("spec")
    found = _object(metadata, "metadata") or _object(spec, "spec")
    if found is not None:
        return found
    metadata, spec = metadata or {}, spec or {}
    for field in ("annotations", "labels"):
        found = found or _string_map(metadata.get(field), f"metadata.{field}")
    for field in ("containers", "initContainers"):
        listed = spec.get(field)
        found = found or _list_of_objects(listed, f"spec.{field}")
        containers: list[Mapping[str, Any]] = listed if found is None and listed else []
        for index, container in enumerate(containers):
            found = found or _container(container, f"spec.{field}[{index}]")
    found = found or _list_of_objects(spec.get("volumes"), "spec.volumes")
    for field in ("os", "nodeSelector"):
        found = found or _object(spec.get(field), f"spec.{field}")
    return found

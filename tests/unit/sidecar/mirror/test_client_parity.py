"""The mirrored clients have the plain clients' public methods, with the same parameters: code
written against ``SidecarClient`` calls ``MirroredSidecarClient`` unchanged (reads return an
``Answer`` that carries the plain client's response message)."""

from __future__ import annotations

import inspect
from collections.abc import Callable

from stigg_sidecar import client
from stigg_sidecar.mirror import client as mirrored


def _public(cls: type) -> dict[str, Callable[..., object]]:
    return {name: m for name, m in inspect.getmembers(cls, inspect.isfunction) if not name.startswith("_")}


def _parameters(method: Callable[..., object]) -> list[tuple[str, object, object]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(method).parameters.values()]


def test_same_methods_and_parameters() -> None:
    for plain, mirror in (
        (client.SidecarClient, mirrored.MirroredSidecarClient),
        (client.AsyncSidecarClient, mirrored.AsyncMirroredSidecarClient),
    ):
        plain_methods, mirror_methods = _public(plain), _public(mirror)
        assert sorted(plain_methods) == sorted(mirror_methods)
        differing = {
            name: (_parameters(method), _parameters(mirror_methods[name]))
            for name, method in plain_methods.items()
            if _parameters(method) != _parameters(mirror_methods[name])
        }
        assert differing == {}
        asyncness = {name: inspect.iscoroutinefunction(m) for name, m in mirror_methods.items()}
        assert asyncness == {name: inspect.iscoroutinefunction(m) for name, m in plain_methods.items()}


def test_same_constructor_parameters_plus_the_mirror_bounds() -> None:
    for plain, mirror in (
        (client.SidecarClient, mirrored.MirroredSidecarClient),
        (client.AsyncSidecarClient, mirrored.AsyncMirroredSidecarClient),
    ):
        plain_names = [p.name for p in inspect.signature(plain.__init__).parameters.values()]
        mirror_names = [p.name for p in inspect.signature(mirror.__init__).parameters.values()]
        assert [name for name in mirror_names if name not in plain_names] == ["staleness", "max_customers"]
        assert [name for name in mirror_names if name in plain_names] == plain_names

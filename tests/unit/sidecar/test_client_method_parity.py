"""The blocking and the asyncio clients expose the same public methods with the same signatures
(only async-ness differs), and together they cover every RPC of the service."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable

from stigg_sidecar import client
from stigg_sidecar.v1 import sidecar_pb2 as pb


def _public_methods(cls: type) -> dict[str, Callable[..., object]]:
    return {
        name: member
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    }


def _snake_case(rpc_name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", rpc_name).lower()


SYNC = _public_methods(client.SidecarClient)
ASYNC = _public_methods(client.AsyncSidecarClient)


def test_same_public_method_names() -> None:
    assert sorted(SYNC) == sorted(ASYNC)


def test_same_signatures() -> None:
    differing = {
        name: (str(inspect.signature(SYNC[name])), str(inspect.signature(ASYNC[name])))
        for name in SYNC.keys() & ASYNC.keys()
        if inspect.signature(SYNC[name]) != inspect.signature(ASYNC[name])
    }
    assert differing == {}


def test_sync_methods_return_values_and_async_methods_awaitables() -> None:
    assert [name for name, method in SYNC.items() if inspect.iscoroutinefunction(method)] == []
    assert [name for name, method in ASYNC.items() if not inspect.iscoroutinefunction(method)] == []


def test_every_rpc_has_a_method_in_both_clients() -> None:
    rpcs = {_snake_case(method.name) for method in pb.DESCRIPTOR.services_by_name["SidecarService"].methods}
    assert len(rpcs) == 12
    assert rpcs - SYNC.keys() == set()
    assert rpcs - ASYNC.keys() == set()
    assert SYNC.keys() - rpcs == {"close"}, "nothing public but the RPCs and close"

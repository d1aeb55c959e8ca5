"""Stigg's Python sidecar SDK (PyPI ``stigg-sidecar-sdk``), driven from the outside.

Runs under the environment of Stigg's Python clients (``stigg_devkit.stigg_sdks.python_clients``),
never ours: it imports only the standard library and the SDK (betterproto messages over
grpclib). Two commands:

* ``driver.py schema`` prints, as one JSON object, what the SDK's generated betterproto classes
  say of the wire contract: every message's fields (number, proto type, enum or message type,
  repeated, map, proto3 ``optional``, oneof group, deprecated), every enum's values, and the
  service's methods with their request and reply types. ``tests/stigg_sdk`` compares it with
  our descriptors;
* ``driver.py serve HOST PORT`` builds the SDK's client as a user does
  (``stigg_sidecar_sdk.Stigg(ApiConfig(...), remote_sidecar_host=..., remote_sidecar_port=...)``)
  and answers JSON lines on stdin, ``{"method": "GetMeteredEntitlement", "request": {...},
  "timeout": 10}``, with one JSON line each on stdout: ``{"response": {...}}`` (what the SDK
  decoded: every field of the reply, ``null`` for an unset optional, only the set member of a
  oneof, enums by name, timestamps in ISO 8601) or ``{"error": {"status": "INVALID_ARGUMENT",
  "message": "..."}}`` (a gRPC status the SDK raised). Requests are built with the SDK's
  ``Message.from_dict`` from proto field names.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import enum
import json
import sys
import typing
import warnings
from typing import Any

import betterproto
import grpclib.exceptions
import stigg_sidecar_sdk
from betterproto import casing
from stigg_sidecar_sdk.generated.stigg.sidecar import v1 as sdk

PACKAGE = "stigg.sidecar.v1"
SERVICE = f"{PACKAGE}.SidecarService"


# -- schema -------------------------------------------------------------------------------------


def _type_name(cls: Any) -> str:
    """A field's message or enum class → its protobuf full name."""
    if cls is datetime.datetime:
        return "google.protobuf.Timestamp"
    if cls is datetime.timedelta:
        return "google.protobuf.Duration"
    module = getattr(cls, "__module__", "")
    if module == sdk.__name__:
        return f"{PACKAGE}.{cls.__name__}"
    if module.startswith("betterproto.lib.google.protobuf"):
        return f"google.protobuf.{cls.__name__}"
    return f"{module}.{getattr(cls, '__name__', cls)}"


def _unwrap(hint: Any) -> tuple[str, Any]:
    """A field's type hint → (``repeated``/``map``/``single``, the element type)."""
    origin = typing.get_origin(hint)
    if origin is typing.Union:
        (inner,) = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return _unwrap(inner)
    if origin is list:
        return "repeated", typing.get_args(hint)[0]
    if origin is dict:
        return "map", typing.get_args(hint)
    return "single", hint


def _kind(proto_type: str, element: Any) -> str:
    if proto_type in {betterproto.TYPE_MESSAGE, betterproto.TYPE_ENUM}:
        return f"{proto_type} {_type_name(element)}"
    return proto_type


def _deprecation_warnings(cls: type[betterproto.Message], **values: Any) -> set[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cls(**values)
    return {str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)}


def _sample(kind: str, element: Any) -> Any:
    """Any value of a field's type: betterproto warns of a deprecated field as soon as it is set."""
    if kind == "repeated":
        return []
    if kind == "map":
        return {}
    if isinstance(element, type) and issubclass(element, betterproto.Message):
        return element()
    if element is datetime.datetime:
        return datetime.datetime.now(datetime.UTC)
    if isinstance(element, type) and issubclass(element, enum.Enum):
        return next(iter(element))
    return element()


def _message(cls: type[betterproto.Message]) -> dict[str, Any]:
    hints = cls._type_hints()
    class_warnings = _deprecation_warnings(cls)
    fields: dict[str, Any] = {}
    for field in dataclasses.fields(cls):
        meta = betterproto.FieldMetadata.get(field)
        shape, element = _unwrap(hints[field.name])
        if meta.proto_type == betterproto.TYPE_MAP:
            key_type, value_type = meta.map_types
            kind = f"map<{_kind(key_type, element[0])}, {_kind(value_type, element[1])}>"
        else:
            kind = _kind(meta.proto_type, element)
        field_warnings = _deprecation_warnings(cls, **{field.name: _sample(shape, element)})
        fields[field.name] = {
            "number": meta.number,
            "type": kind,
            "repeated": shape == "repeated",
            "optional": bool(meta.optional),
            "oneof": None if meta.optional else meta.group,
            "deprecated": bool(field_warnings - class_warnings),
        }
    return {"fields": fields, "deprecated": bool(class_warnings)}


def schema() -> dict[str, Any]:
    messages: dict[str, Any] = {}
    enums: dict[str, Any] = {}
    for name, value in list(vars(sdk).items()):
        if getattr(value, "__module__", None) != sdk.__name__ or not isinstance(value, type):
            continue
        if issubclass(value, betterproto.Enum):
            enums[name] = {member.name: int(member.value) for member in value}
        elif issubclass(value, betterproto.Message):
            messages[name] = _message(value)
    methods: dict[str, Any] = {}
    for path, handler in sdk.SidecarServiceBase().__mapping__().items():
        service, method = path.strip("/").split("/")
        methods[method] = {
            "service": service,
            "input": _type_name(handler.request_type),
            "output": _type_name(handler.reply_type),
            "cardinality": handler.cardinality.name,
        }
    return {"messages": messages, "enums": enums, "methods": methods}


# -- serve --------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.name
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, betterproto.Message):
        return decoded(value)
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    raise TypeError(f"cannot show a {type(value).__name__}")


def decoded(message: betterproto.Message) -> dict[str, Any]:
    """Every field of a decoded message as the SDK's user sees it (a oneof: only its set member)."""
    out: dict[str, Any] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        for field in dataclasses.fields(message):
            meta = betterproto.FieldMetadata.get(field)
            if (
                meta.group
                and not meta.optional
                and betterproto.which_one_of(message, meta.group)[0] != field.name
            ):
                continue
            value = getattr(message, field.name)
            if meta.proto_type == betterproto.TYPE_ENUM and isinstance(value, int):
                value = _enum_member(message._betterproto.cls_by_field[field.name], value)
            out[field.name] = _plain(value)
    return out


def _enum_member(cls: Any, value: int) -> Any:
    """betterproto 2.0.0b6 decodes enum fields as plain ints: the member of that number, if any."""
    try:
        return cls(value)
    except ValueError:
        return value


async def _call(client: Any, call: dict[str, Any]) -> dict[str, Any]:
    method = call["method"]
    handler = sdk.SidecarServiceBase().__mapping__()[f"/{SERVICE}/{method}"]
    request = handler.request_type().from_dict(call.get("request", {}))
    stub_method = getattr(client, casing.snake_case(method))
    try:
        response = await stub_method(request, timeout=call.get("timeout", 10))
    except grpclib.exceptions.GRPCError as error:
        return {"error": {"status": error.status.name, "message": error.message}}
    return {"response": decoded(response)}


async def serve(host: str, port: int) -> None:
    client = stigg_sidecar_sdk.Stigg(
        stigg_sidecar_sdk.ApiConfig(api_key="sdk-driver-key"),
        remote_sidecar_host=host,
        remote_sidecar_port=port,
    )
    loop = asyncio.get_running_loop()
    try:
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            try:
                answer = await _call(client, json.loads(line))
            except Exception as error:  # a bad call is the test's fault: say so, keep serving
                answer = {"exception": f"{type(error).__name__}: {error}"}
            sys.stdout.write(json.dumps(answer) + "\n")
            sys.stdout.flush()
    finally:
        client.close()


def main() -> None:
    if sys.argv[1:] == ["schema"]:
        json.dump(schema(), sys.stdout, indent=1)  # in declaration order
        return
    if len(sys.argv) == 4 and sys.argv[1] == "serve":
        asyncio.run(serve(sys.argv[2], int(sys.argv[3])))
        return
    sys.exit("usage: driver.py schema | driver.py serve HOST PORT")


if __name__ == "__main__":
    main()

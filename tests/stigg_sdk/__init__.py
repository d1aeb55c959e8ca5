"""Stigg's Python sidecar SDK (``stigg-sidecar-sdk`` 8.1.0) for our tests, the side they import.

The SDK cannot be installed beside our dependencies (its ``stigg-api-client-v2`` wants
pydantic<2.13, our kubernetes client >=2.14.2), so it lives in the virtual environment of
Stigg's Python clients, which ``stigg_devkit.stigg_sdks.python_clients()`` installs outside
git (pinned by ``devkit/stigg_devkit/stigg_peers/python-clients-requirements.txt``; once, on
first use, or by ``make install``), and our tests reach it through ``driver.py`` run by that
environment's Python, as the Go client tests run a Go binary:

* ``schema()``: what the SDK's generated betterproto classes say of the wire contract, the
  shape ``descriptor_schema`` gives for our own descriptors, so the two can be compared;
* ``SdkClient``: a live SDK client of one sidecar; ``call("GetBooleanEntitlement", {...})``
  returns the decoded reply (``{"response": ...}``) or the gRPC status the SDK raised
  (``{"error": {"status": ..., "message": ...}}``).
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import tempfile
from typing import Any

from google.protobuf import descriptor as protobuf_descriptor
from google.protobuf import descriptor_pb2

from stigg_devkit import stigg_sdks

DRIVER = pathlib.Path(__file__).with_name("driver.py")


def python() -> pathlib.Path:
    """The interpreter of Stigg's Python clients' environment, installed if needed
    (``STIGG_SDK_PYTHON``, if set, names another interpreter that has the SDK)."""
    override = os.environ.get("STIGG_SDK_PYTHON")
    if not override:
        return stigg_sdks.python_clients()
    path = pathlib.Path(override)
    if not path.exists():
        raise RuntimeError(f"STIGG_SDK_PYTHON={override}: no such interpreter")
    return path


def schema() -> dict[str, Any]:
    """The SDK's view of the contract: ``{"messages", "enums", "methods"}`` (see driver.py)."""
    completed = subprocess.run(
        [str(python()), str(DRIVER), "schema"], capture_output=True, text=True, check=False, timeout=120
    )
    if completed.returncode != 0:
        raise RuntimeError(f"the SDK's schema could not be read:\n{completed.stderr[-4000:]}")
    loaded: dict[str, Any] = json.loads(completed.stdout)
    return loaded


_TYPE_NAMES = {
    number: name.removeprefix("TYPE_").lower()
    for name, number in descriptor_pb2.FieldDescriptorProto.Type.items()
}


def _field_type(field: descriptor_pb2.FieldDescriptorProto, maps: dict[str, str]) -> str:
    kind = _TYPE_NAMES[field.type]
    if kind in {"message", "enum"}:
        type_name = field.type_name.lstrip(".")
        return maps.get(type_name, f"{kind} {type_name}")
    return kind


def descriptor_schema(file: protobuf_descriptor.FileDescriptor) -> dict[str, Any]:
    """Our descriptors in ``schema()``'s shape (top-level messages and enums, one service)."""
    proto = descriptor_pb2.FileDescriptorProto()
    file.CopyToProto(proto)
    package = proto.package
    maps: dict[str, str] = {}
    for message in proto.message_type:
        for nested in message.nested_type:
            if nested.options.map_entry:
                key, value = nested.field
                maps[f"{package}.{message.name}.{nested.name}"] = (
                    f"map<{_field_type(key, {})}, {_field_type(value, {})}>"
                )
    messages: dict[str, Any] = {}
    for message in proto.message_type:
        fields = {}
        for field in message.field:
            kind = _field_type(field, maps)
            real_oneof = field.HasField("oneof_index") and not field.proto3_optional
            fields[field.name] = {
                "number": field.number,
                "type": kind,
                "repeated": field.label == descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED
                and not kind.startswith("map<"),
                "optional": field.proto3_optional,
                "oneof": message.oneof_decl[field.oneof_index].name if real_oneof else None,
                "deprecated": field.options.deprecated,
            }
        messages[message.name] = {"fields": fields, "deprecated": message.options.deprecated}
    enums = {enum.name: {value.name: value.number for value in enum.value} for enum in proto.enum_type}
    methods = {
        method.name: {
            "service": f"{package}.{service.name}",
            "input": method.input_type.lstrip("."),
            "output": method.output_type.lstrip("."),
            "cardinality": f"{'STREAM' if method.client_streaming else 'UNARY'}_"
            f"{'STREAM' if method.server_streaming else 'UNARY'}",
        }
        for service in proto.service
        for method in service.method
    }
    return {"messages": messages, "enums": enums, "methods": methods}


def differences(ours: dict[str, Any], theirs: dict[str, Any]) -> list[str]:
    """Every way ``ours`` differs from ``theirs`` (the SDK's), one line each; empty if none.

    Declaration order counts too (messages, enums, methods, a message's fields): it fixes the
    descriptor's indexes, which reflection clients see."""
    out: list[str] = []
    for section in ("messages", "enums", "methods"):
        mine, sdk = ours[section], theirs[section]
        out += [f"{section}: {name} is missing (the SDK has it)" for name in sorted(sdk.keys() - mine.keys())]
        out += [
            f"{section}: {name} is extra (the SDK has no such)" for name in sorted(mine.keys() - sdk.keys())
        ]
        if mine.keys() == sdk.keys() and list(mine) != list(sdk):
            out.append(f"{section}: declared in another order than the SDK's: {list(sdk)}")
        for name in sorted(mine.keys() & sdk.keys()):
            if section == "messages":
                out += _message_differences(name, mine[name], sdk[name])
            elif mine[name] != sdk[name]:
                out.append(f"{section}: {name} is {mine[name]}, the SDK's is {sdk[name]}")
    return out


def _message_differences(name: str, mine: dict[str, Any], sdk: dict[str, Any]) -> list[str]:
    out: list[str] = []
    if mine["deprecated"] != sdk["deprecated"]:
        out.append(f"{name}: deprecated is {mine['deprecated']}, the SDK's is {sdk['deprecated']}")
    fields, sdk_fields = mine["fields"], sdk["fields"]
    for field in sorted(sdk_fields.keys() - fields.keys()):
        out.append(f"{name}.{field} is missing: the SDK has {_shown(sdk_fields[field])}")
    for field in sorted(fields.keys() - sdk_fields.keys()):
        out.append(f"{name}.{field} is extra: the SDK has no such field (ours: {_shown(fields[field])})")
    if fields.keys() == sdk_fields.keys() and list(fields) != list(sdk_fields):
        out.append(f"{name}: fields declared in another order than the SDK's: {list(sdk_fields)}")
    for field in sorted(fields.keys() & sdk_fields.keys()):
        for attribute, value in fields[field].items():
            if sdk_fields[field][attribute] != value:
                out.append(
                    f"{name}.{field}: {attribute} is {value!r}, the SDK's is {sdk_fields[field][attribute]!r}"
                )
    return out


def _shown(field: dict[str, Any]) -> str:
    flags = [flag for flag in ("repeated", "optional", "deprecated") if field[flag]]
    oneof = [f"in oneof {field['oneof']}"] if field["oneof"] else []
    return " ".join([*flags, field["type"], f"= {field['number']}", *oneof])


class SdkClient:
    """A running SDK client of the sidecar at ``host:port`` (a ``driver.py serve`` process)."""

    def __init__(self, target: str) -> None:
        host, port = target.rsplit(":", 1)
        # The SDK logs at INFO: a pipe could fill up, a file cannot. Closed with the process.
        self._log = tempfile.TemporaryFile("w+")  # noqa: SIM115
        self._process = subprocess.Popen(
            [str(python()), str(DRIVER), "serve", host, port],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )

    def call(self, method: str, request: dict[str, Any] | None = None, timeout: float = 10) -> dict[str, Any]:
        """One RPC through the SDK: ``{"response": ...}`` or ``{"error": {"status", "message"}}``."""
        stdin, stdout = self._process.stdin, self._process.stdout
        assert stdin is not None
        assert stdout is not None
        stdin.write(json.dumps({"method": method, "request": request or {}, "timeout": timeout}) + "\n")
        stdin.flush()
        line = stdout.readline()
        if not line:
            raise RuntimeError(f"the SDK driver exited: {self._stderr()}")
        answer: dict[str, Any] = json.loads(line)
        if "exception" in answer:
            raise RuntimeError(f"the SDK driver could not make the call: {answer['exception']}")
        return answer

    def response(self, method: str, request: dict[str, Any] | None = None) -> dict[str, Any]:
        """The decoded reply of a call that must succeed."""
        answer = self.call(method, request)
        assert "response" in answer, f"{method} failed through the SDK: {answer}"
        response: dict[str, Any] = answer["response"]
        return response

    def _stderr(self) -> str:
        self._process.wait(timeout=10)
        self._log.seek(0)
        text = self._log.read()[-4000:]
        self.close()
        return text

    def close(self) -> None:
        if self._process.poll() is None:
            assert self._process.stdin is not None
            self._process.stdin.close()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
        assert self._process.stdout is not None
        self._process.stdout.close()
        self._log.close()

    def __enter__(self) -> SdkClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

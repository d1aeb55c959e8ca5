"""GENERATED CODE: do not edit. Regenerate with ``make proto`` from ``proto/stigg/sidecar/v1``.

The Stigg-compatible wire contract (proto package ``stigg.sidecar.v1``): ``sidecar_pb2`` holds
the messages, ``sidecar_pb2_grpc`` the service stubs; the ``.pyi`` files type both.
"""

"""GENERATED CODE: do not edit. Regenerate with ``make proto`` from ``proto/``.

The wire contracts: Stigg's (proto package ``stigg.sidecar.v1``: ``sidecar_pb2`` holds the
messages, ``sidecar_pb2_grpc`` the service stubs) and this project's mirror protocol (package
``stigg_sidecar.mirror.v1``: ``mirror_pb2``, ``mirror_pb2_grpc``); the ``.pyi`` files type them.
"""

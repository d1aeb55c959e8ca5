"""The entitlements sidecar: a Stigg-compatible gRPC service answering checks from a local cache.

This package is the sidecar's home; it is filled in by the sidecar issue. Generated protobuf
code will live in ``stigg_sidecar/v1`` only.
"""

"""The gRPC connection cap leaves room, within the descriptor limit, for the HTTP port's
connections and the process's own files, so neither port can starve the other."""

from __future__ import annotations

from stigg_sidecar import descriptors


def test_a_roomy_limit_keeps_the_configured_cap() -> None:
    assert descriptors.grpc_connection_cap(1 << 20, grpc_max=1000, http_max=64) == 1000


def test_a_tight_limit_lowers_the_cap_to_what_fits() -> None:
    cap = descriptors.grpc_connection_cap(1024, grpc_max=1000, http_max=64)
    assert cap == 1024 - 64 - descriptors.RESERVE
    assert cap + 64 + descriptors.RESERVE <= 1024


def test_the_cap_never_drops_below_a_usable_minimum() -> None:
    assert (
        descriptors.grpc_connection_cap(100, grpc_max=1000, http_max=64) == descriptors.MIN_GRPC_CONNECTIONS
    )

"""Fixtures for the tests that use Stigg's Python sidecar SDK (``stigg-sidecar-sdk`` 8.1.0)
as the client: the SDK runs in the environment of Stigg's Python clients
(``stigg_devkit.stigg_sdks``), driven through ``tests/stigg_sdk``, against a real sidecar
process in front of the emulator, over loopback gRPC.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stigg_devkit import sidecar_launcher
from tests import stigg_sdk


@pytest.fixture(scope="module")
def module_sdk(module_sidecar: sidecar_launcher.RunningSidecar) -> Iterator[stigg_sdk.SdkClient]:
    """The SDK's client of the module's sidecar (for tests that only read)."""
    with stigg_sdk.SdkClient(module_sidecar.grpc_target) as client:
        yield client


@pytest.fixture
def sdk(sidecar: sidecar_launcher.RunningSidecar) -> Iterator[stigg_sdk.SdkClient]:
    """The SDK's client of a sidecar in front of a fresh emulator (for tests that write)."""
    with stigg_sdk.SdkClient(sidecar.grpc_target) as client:
        yield client

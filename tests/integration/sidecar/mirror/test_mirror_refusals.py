"""Follow refuses what the sidecar would refuse anywhere, naming the field; a sidecar that does
not serve the mirror (``SIDECAR_MIRROR_ENABLED=false``, or Stigg's own) leaves the mirrored
client asking it over gRPC for everything, as the plain client does."""

from __future__ import annotations

import time

import grpc
import pytest

from stigg_devkit import sidecar_launcher, waiting
from stigg_emulator import launcher
from stigg_sidecar.mirror import client as mirrored_client
from stigg_sidecar.v1 import mirror_pb2 as mpb
from stigg_sidecar.v1 import mirror_pb2_grpc as mpb_grpc
from tests.integration.sidecar import conftest as sidecar_conftest


def _follow_error(target: str, request: mpb.FollowRequest, stream_id: str = "s") -> grpc.RpcError:
    with grpc.insecure_channel(target) as channel:
        call = mpb_grpc.MirrorServiceStub(channel).Follow(
            iter([request]), metadata=(("stigg-mirror-stream", stream_id),), timeout=5
        )
        with pytest.raises(grpc.RpcError) as refused:
            for _ in call:
                pass
        return refused.value


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (mpb.FollowRequest(subscribe=[mpb.CustomerKey(customer_id=" ")]), "subscribe[0].customer_id"),
        (
            mpb.FollowRequest(
                subscribe=[mpb.CustomerKey(customer_id="c"), mpb.CustomerKey(customer_id="x" * 300)]
            ),
            "subscribe[1].customer_id",
        ),
        (
            mpb.FollowRequest(unsubscribe=[mpb.CustomerKey(customer_id="c", resource_id="r" * 300)]),
            "unsubscribe[0].resource_id",
        ),
    ],
)
def test_a_bad_key_is_refused_naming_its_field(
    module_sidecar: sidecar_launcher.RunningSidecar, request_: mpb.FollowRequest, field: str
) -> None:
    error = _follow_error(module_sidecar.grpc_target, request_)
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith(field), error.details()


def test_a_long_stream_id_is_refused(module_sidecar: sidecar_launcher.RunningSidecar) -> None:
    error = _follow_error(module_sidecar.grpc_target, mpb.FollowRequest(), stream_id="s" * 65)
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "stigg-mirror-stream" in error.details()


def test_without_the_mirror_every_check_goes_to_the_sidecar(
    emulator: launcher.RunningEmulator, start_sidecar: sidecar_conftest.SidecarFactory
) -> None:
    sidecar = start_sidecar({**sidecar_conftest.upstream_env(emulator), "SIDECAR_MIRROR_ENABLED": "false"})
    with mirrored_client.MirroredSidecarClient(sidecar.grpc_target, timeout=5) as mirror:
        first = mirror.get_boolean_entitlement("customer-pro", "feature-sso")
        assert first.has_access
        waiting.wait_for(
            lambda: not mirror.supported, timeout=5, what="the client to learn there is no mirror"
        )
        time.sleep(0.2)
        again = mirror.get_boolean_entitlement("customer-pro", "feature-sso")
        assert again.has_access
        assert not again.from_mirror
        assert sidecar.metric("sidecar_checks_total", 'method="GetBooleanEntitlement",outcome="granted"') == 2

"""The mirror never answers from a state older than its staleness bound: with the sidecar
stopped (SIGSTOP: its connections stay open, nothing arrives) or the connection to it killed,
in-process answers stop once the bound has passed since the last message heard, and checks go
to the sidecar (and fail there, as a plain client's would); once the sidecar is back, the
client follows again (a new stream) and answers in-process again."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator

import grpc
import pytest

from stigg_devkit import sidecar_launcher, waiting
from stigg_sidecar.mirror import client as mirrored_client
from tests.integration.sidecar import tcp_relay
from tests.integration.sidecar.mirror import conftest

BOUND = 1.0  # the staleness bound of these tests (the sidecar's heartbeat: 0.2 s)
SLACK = 0.05  # a message in flight at the stop may arrive just after it


def _watch(mirror: mirrored_client.MirroredSidecarClient, seconds: float) -> list[tuple[float, str]]:
    """Check every 20 ms for ``seconds``: (time before the call, "mirror" or the gRPC code)."""
    seen = []
    deadline = time.monotonic() + seconds
    while (before := time.monotonic()) < deadline:
        try:
            answer = mirror.get_boolean_entitlement("customer-pro", "feature-sso", timeout=0.2)
            seen.append((before, "mirror" if answer.from_mirror else "sidecar"))
        except grpc.RpcError as error:
            seen.append((before, error.code().name))
        time.sleep(0.02)
    return seen


def _assert_bounded(seen: list[tuple[float, str]], stopped_at: float) -> None:
    late = [
        (round(t - stopped_at, 3), source)
        for t, source in seen
        if source == "mirror" and t > stopped_at + BOUND + SLACK
    ]
    assert late == [], "answered in-process past the staleness bound"
    assert any(source == "mirror" for t, source in seen if t > stopped_at), (
        "answered in-process within the bound"
    )
    after = {source for t, source in seen if t > stopped_at + BOUND + SLACK}
    assert after, "checks went on past the bound"
    assert "mirror" not in after, after


@pytest.fixture
def sigstop() -> Iterator[Callable[[int], None]]:
    stopped: list[int] = []

    def stop(pid: int) -> None:
        os.kill(pid, signal.SIGSTOP)
        stopped.append(pid)

    try:
        yield stop
    finally:
        for pid in stopped:
            os.kill(pid, signal.SIGCONT)


def test_a_stopped_sidecar(
    mirror_sidecar: sidecar_launcher.RunningSidecar, sigstop: Callable[[int], None]
) -> None:
    with mirrored_client.MirroredSidecarClient(
        mirror_sidecar.grpc_target, timeout=2, staleness=BOUND
    ) as mirror:
        conftest.mirrored(lambda: mirror.get_boolean_entitlement("customer-pro", "feature-sso"))
        sigstop(mirror_sidecar.process.pid)
        stopped_at = time.monotonic()
        seen = _watch(mirror, 2.5)
        _assert_bounded(seen, stopped_at)
        assert {source for t, source in seen if t > stopped_at + BOUND + SLACK} == {"DEADLINE_EXCEEDED"}
        os.kill(mirror_sidecar.process.pid, signal.SIGCONT)
        conftest.mirrored(lambda: mirror.get_boolean_entitlement("customer-pro", "feature-sso"))


def test_a_killed_connection(mirror_sidecar: sidecar_launcher.RunningSidecar) -> None:
    relay = tcp_relay.Relay(mirror_sidecar.grpc_target)
    try:
        quick = [("grpc.initial_reconnect_backoff_ms", 100), ("grpc.max_reconnect_backoff_ms", 500)]
        channel = grpc.insecure_channel(relay.address, options=quick)
        with mirrored_client.MirroredSidecarClient(channel=channel, timeout=2, staleness=BOUND) as mirror:
            conftest.mirrored(lambda: mirror.get_boolean_entitlement("customer-pro", "feature-sso"))
            streams = mirror.replica.stats.streams
            relay.cut()
            cut_at = time.monotonic()
            seen = _watch(mirror, 2.5)
            _assert_bounded(seen, cut_at)
            assert {source for t, source in seen if t > cut_at + BOUND + SLACK} == {"UNAVAILABLE"}
            relay.restore()

            def back() -> bool:
                try:
                    return mirror.get_boolean_entitlement("customer-pro", "feature-sso").from_mirror
                except grpc.RpcError:  # the channel reconnects with a backoff of its own
                    return False

            waiting.wait_for(back, timeout=15, what="answers from the mirror again")
            assert mirror.replica.stats.streams > streams, "it followed again on a new stream"
    finally:
        relay.close()

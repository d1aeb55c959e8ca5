"""A stream that refuses the API key is logged as such, counted, retried, and the key never
appears in the log."""

from __future__ import annotations

from stigg_devkit import waiting
from stigg_emulator import launcher
from tests.integration.sidecar import conftest

WRONG_KEY = "sk-wrong-0f3e9d"


def test_a_refused_key_is_reported_without_the_key(
    emulator: launcher.RunningEmulator, start_sidecar: conftest.SidecarFactory
) -> None:
    running = start_sidecar({**conftest.stream_env(emulator), "SERVER_API_KEY": WRONG_KEY})
    waiting.wait_for(
        lambda: running.metric("sidecar_stream_disconnects_total") >= 2,
        timeout=10,
        what="the refused stream to be retried",
    )
    assert running.metric("sidecar_invalid_api_key_errors_total") >= 2
    assert running.http_json("/readyz")[1]["stream"] == "connecting"
    log = running.log()
    assert "the event stream refused the API key" in log
    assert WRONG_KEY not in log

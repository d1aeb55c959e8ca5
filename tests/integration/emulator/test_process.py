"""The emulator as a process: it announces one address line, honours its options, and stops
cleanly on SIGTERM and SIGINT; a bad catalog or a taken port fails with a clear message."""

from __future__ import annotations

import pathlib
import re
import signal
import subprocess
import sys
import threading
import time

import aiohttp
import pytest

from stigg_emulator import launcher
from tests.integration.emulator import upstream as upstream_client

LINE = re.compile(r"listening on http://127\.0\.0\.1:(\d+)\n")


def test_announces_exactly_one_line_and_exits_zero_on_sigterm(tmp_path: pathlib.Path) -> None:
    stderr_path = tmp_path / "stderr.log"
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "stigg_emulator", "--port", "0", "--latency-ms", "0"],
            stdout=subprocess.PIPE,
            stderr=stderr,
            env={"STIGG_EMULATOR_API_KEY": "never-printed-key", "PATH": "/usr/bin:/bin"},
        )
        watchdog = threading.Timer(30, process.kill)  # a silent emulator fails the test, not hangs it
        watchdog.start()
        try:
            assert process.stdout is not None
            line = process.stdout.readline().decode()
            match = LINE.fullmatch(line)
            assert match, line
            assert int(match.group(1)) > 0
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=10) == 0
            assert process.stdout.read() == b""  # nothing after the address line
        finally:
            watchdog.cancel()
            if process.poll() is None:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()
    assert "never-printed-key" not in stderr_path.read_text()


def test_sigint_also_stops_it_cleanly() -> None:
    running = launcher.start(latency_ms=0)
    running.process.send_signal(signal.SIGINT)
    assert running.process.wait(timeout=10) == 0
    running.stop()


async def test_command_line_fault_options_are_applied() -> None:
    with launcher.start(latency_ms=100, jitter_ms=20, error_rate=0, seed=3, legacy_only=True) as running:
        async with aiohttp.ClientSession() as session:
            client = upstream_client.Upstream(running.base_url, running.api_key, session)
            status, settings = await client.admin("GET", "faults")
            assert (status, settings) == (
                200,
                {
                    "latencyMs": 100.0,
                    "jitterMs": 20.0,
                    "errorRate": 0.0,
                    "outage": False,
                    "writeOutage": False,
                    "legacyOnly": True,
                },
            )
            started = time.monotonic()
            status, _ = await client.edge("customer-free")
            assert status == 200
            assert time.monotonic() - started >= 0.1


def test_an_invalid_catalog_exits_2_naming_the_place(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("features: []\nplans: []\ncustomers:\n  - {id: c1, plan: gold}\n")
    finished = subprocess.run(
        [sys.executable, "-m", "stigg_emulator", "--catalog", str(path)],
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert finished.returncode == 2
    assert finished.stdout == b""
    assert "customers[0].plan: unknown plan 'gold'" in finished.stderr.decode()


def test_a_taken_port_exits_1(emulator_url: str) -> None:
    port = emulator_url.rsplit(":", 1)[1]
    finished = subprocess.run(
        [sys.executable, "-m", "stigg_emulator", "--port", port],
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert finished.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in finished.stderr.decode()


def test_an_invalid_fault_option_is_a_usage_error() -> None:
    finished = subprocess.run(
        [sys.executable, "-m", "stigg_emulator", "--error-rate", "2"],
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert finished.returncode == 2
    assert "errorRate: must be between 0 and 1" in finished.stderr.decode()


def test_the_launcher_reports_an_emulator_that_dies_before_listening(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("nonsense: true\n")
    with pytest.raises(launcher.EmulatorStartError, match=r"exited \(status 2\) before announcing itself"):
        launcher.start(catalog_path=path, stderr=subprocess.DEVNULL)

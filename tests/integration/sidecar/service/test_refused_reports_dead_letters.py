"""A report the upstream refuses for good never takes other reports with it: in a stream of
reports where every 20th names a customer the upstream does not know, every good one arrives
upstream (before this, the drainer dropped the whole batch: 78 of 95 arrived), and each
refused one is kept as a dead letter with the upstream's reason, listed and removed on
purpose with the real ``stigg-sidecar dead-letters`` command on the sidecar's state volume."""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import subprocess
import sys

from stigg_emulator import launcher
from stigg_sidecar import client
from tests.integration.sidecar import conftest

START = 250  # customer-free's api-calls usage in the sample catalog
REPORTS, EVERY = 100, 20


async def _upstream_usage(emulator: launcher.RunningEmulator) -> float:
    return (await conftest.upstream_usage(emulator, "customer-free")).get("feature-api-calls", 0)


def _dead_letters(state_dir: pathlib.Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stigg_sidecar", "dead-letters", *args],
        env={**os.environ, "SIDECAR_STATE_DIR": str(state_dir)},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


async def test_refused_reports_become_dead_letters_and_the_rest_arrive(
    tmp_path: pathlib.Path, emulator: launcher.RunningEmulator, start_sidecar: conftest.SidecarFactory
) -> None:
    state_dir = tmp_path / "state"
    # The upstream is down while the reports are accepted, so they leave in batches together.
    await conftest.set_faults(emulator, outage=True)
    sidecar = start_sidecar({**conftest.upstream_env(emulator), "SIDECAR_STATE_DIR": str(state_dir)})
    async with client.AsyncSidecarClient(sidecar.grpc_target, timeout=10) as stub:
        for number in range(1, REPORTS + 1):
            customer = f"customer-deleted-{number}" if number % EVERY == 0 else "customer-free"
            answer = await stub.report_usage(customer, "feature-api-calls", 1)
            assert answer.measurement_id
    await conftest.set_faults(emulator, outage=False)

    good = REPORTS - REPORTS // EVERY
    deadline = asyncio.get_running_loop().time() + 60
    while sidecar.metric("sidecar_outbox_depth") or await _upstream_usage(emulator) < START + good:
        assert asyncio.get_running_loop().time() < deadline, f"arrived: {await _upstream_usage(emulator)}"
        await asyncio.sleep(0.2)
    assert await _upstream_usage(emulator) == START + good, "every good report, once"
    assert sidecar.metric("sidecar_outbox_rejected_total") == REPORTS // EVERY
    assert sidecar.metric("sidecar_outbox_dead_letters") == REPORTS // EVERY

    listed = _dead_letters(state_dir, "list")
    assert listed.returncode == 0, listed.stderr
    letters = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [letter["item"]["customerId"] for letter in letters] == [
        f"customer-deleted-{n}" for n in range(EVERY, REPORTS + 1, EVERY)
    ]
    assert all("was not found" in letter["reason"] for letter in letters)
    assert all(letter["item"]["key"] for letter in letters), "kept with the idempotency key it was sent with"

    refused = _dead_letters(state_dir, "delete")
    assert refused.returncode == 2, "delete needs SEQs or --all"
    removed = _dead_letters(state_dir, "delete", str(letters[0]["seq"]))
    assert (removed.returncode, removed.stdout.strip()) == (0, "removed 1 dead letter(s)")
    assert len(_dead_letters(state_dir, "list").stdout.splitlines()) == REPORTS // EVERY - 1
    assert (
        _dead_letters(state_dir, "delete", "--all").stdout.strip()
        == f"removed {REPORTS // EVERY - 1} dead letter(s)"
    )
    assert _dead_letters(state_dir, "list").stdout == ""

"""Fixtures for the mirror's tests: a sidecar following the emulator's stream with quick mirror
heartbeats, and helpers that wait for a mirrored client to answer in-process."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pytest

from stigg_devkit import sidecar_launcher, waiting
from stigg_emulator import launcher
from stigg_sidecar.mirror import answers
from tests.integration.sidecar import conftest

HEARTBEAT = "0.2"  # SIDECAR_MIRROR_HEARTBEAT_SECONDS for these tests
R = TypeVar("R")


@pytest.fixture
def mirror_sidecar(
    emulator: launcher.RunningEmulator, start_sidecar: conftest.SidecarFactory
) -> sidecar_launcher.RunningSidecar:
    """A sidecar following the emulator's stream, serving the mirror with 0.2 s heartbeats."""
    return conftest.start_live_sidecar(start_sidecar, emulator, SIDECAR_MIRROR_HEARTBEAT_SECONDS=HEARTBEAT)


def mirrored(ask: Callable[[], answers.Answer[R]], *, within: float = 5.0) -> answers.Answer[R]:
    """Ask until the answer comes from the mirror (the first goes to the sidecar, and subscribes)."""

    def attempt() -> answers.Answer[R] | None:
        answer = ask()
        return answer if answer.from_mirror else None

    return waiting.wait_for(attempt, timeout=within, what="an answer from the mirror")


async def amirrored(ask: Callable[[], Any], *, within: float = 5.0) -> Any:
    """``mirrored`` for the asyncio client."""

    async def attempt() -> Any:
        answer = await ask()
        return answer if answer.from_mirror else None

    return await waiting.eventually(attempt, within=within, what="an answer from the mirror")


def checks_answered(sidecar: sidecar_launcher.RunningSidecar) -> float:
    """How many checks the sidecar itself answered (all methods and outcomes)."""
    total = 0.0
    for line in sidecar.metrics().splitlines():
        if line.startswith("sidecar_checks_total{"):
            total += float(line.split()[-1])
    return total

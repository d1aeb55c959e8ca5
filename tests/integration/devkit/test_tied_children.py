"""Children started through ``childproc.tied`` die with the thread that started them, keep the
descriptor limit asked for, and start reliably from a process busy with gRPC calls: spawned
without a ``preexec_fn``, no fork handler of gRPC's runs in them (before, with one, about a
third of 150 such children crashed with SIGSEGV or SIGABRT before exec: grpc/grpc#43055)."""

from __future__ import annotations

import asyncio
import collections
import signal
import subprocess
import sys
import time

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from stigg_devkit import childproc, waiting

_STARTER = """
import subprocess, sys
from stigg_devkit import childproc
child = subprocess.Popen(childproc.tied(["sleep", "60"]))
print(child.pid, flush=True)
"""  # starts a tied child, says its pid, and exits without waiting for it


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_a_tied_child_dies_with_its_parent() -> None:
    starter = subprocess.run([sys.executable, "-c", _STARTER], capture_output=True, text=True, check=True)
    pid = int(starter.stdout)
    waiting.wait_for(lambda: not _alive(pid), timeout=5, what="the orphaned child to be killed")


def test_a_tied_child_gets_the_descriptor_limit() -> None:
    shown = subprocess.run(
        childproc.tied(["sh", "-c", "ulimit -n; ulimit -Hn"], descriptor_limit=321),
        capture_output=True,
        text=True,
        check=True,
    )
    assert shown.stdout.split() == ["321", "321"]


async def test_children_start_reliably_while_grpc_is_busy() -> None:
    server = grpc.aio.server()
    health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    stub = health_pb2_grpc.HealthStub(channel)
    busy = True

    async def calls() -> None:
        while busy:
            await stub.Check(health_pb2.HealthCheckRequest())

    load = [asyncio.create_task(calls()) for _ in range(8)]
    exits: collections.Counter[int] = collections.Counter()
    started = time.monotonic()
    try:
        for _ in range(100):
            child = await asyncio.to_thread(subprocess.Popen, childproc.tied(["true"]))
            exits[await asyncio.to_thread(child.wait)] += 1
    finally:
        busy = False
        await asyncio.gather(*load)
        await channel.close()
        await server.stop(0)
    assert exits == {0: 100}, f"children's exit statuses: {dict(exits)} in {time.monotonic() - started:.1f}s"


def test_a_tied_child_has_the_default_signal_actions() -> None:
    shown = subprocess.run(
        childproc.tied(["grep", "^SigIgn:", "/proc/self/status"]), capture_output=True, text=True, check=True
    )
    ignored = int(shown.stdout.split()[1], 16)  # a bit per signal, signal n at bit n - 1
    for restored in (signal.SIGPIPE, signal.SIGXFSZ):
        assert not ignored & (1 << (restored - 1)), f"{restored.name} left ignored"


def test_a_program_that_cannot_run_exits_127() -> None:
    failed = subprocess.run(
        childproc.tied(["/nonexistent/program"]), capture_output=True, text=True, check=False
    )
    assert failed.returncode == 127
    assert "cannot run /nonexistent/program" in failed.stderr

"""A cluster started by a process that dies abruptly (SIGKILL: no finally, no atexit) dies with it."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import textwrap

import pytest

from stigg_devkit import waiting
from stigg_localcluster import build, processes

STARTER = textwrap.dedent(
    """
    import dataclasses, json, pathlib, sys, time
    from stigg_localcluster import cluster
    local = cluster.LocalCluster(pathlib.Path(sys.argv[1]))
    local.start()
    print(json.dumps([dataclasses.asdict(r) for r in local.records]), flush=True)
    time.sleep(600)
    """
)


@pytest.mark.slow
def test_cluster_dies_with_killed_parent(
    tmp_path: pathlib.Path, control_plane_binaries: build.Binaries
) -> None:
    state_dir = tmp_path / "orphan"
    starter = subprocess.Popen(
        [sys.executable, "-c", STARTER, str(state_dir)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "STIGG_LOCALCLUSTER_CACHE": str(build.cache_root())},
    )
    try:
        assert starter.stdout is not None
        line = starter.stdout.readline()
        records = [processes.ProcessRecord(**{**r, "cmdline": tuple(r["cmdline"])}) for r in json.loads(line)]
        assert all(processes.is_running(r) for r in records)
    finally:
        starter.send_signal(signal.SIGKILL)
        starter.wait()

    waiting.wait_for(
        lambda: not any(processes.is_running(r) for r in records),
        timeout=15,
        what="the orphaned control plane to die with its parent",
    )
    assert list(processes.find_referencing(state_dir)) == []

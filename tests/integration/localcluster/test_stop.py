"""Stopping a cluster leaves no process of it running and frees its ports."""

from __future__ import annotations

import pathlib
import socket

import pytest

from stigg_localcluster import build, cluster, processes


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.slow
def test_stop_leaves_no_process(tmp_path: pathlib.Path, control_plane_binaries: build.Binaries) -> None:
    local = cluster.LocalCluster(tmp_path / "c", binaries=control_plane_binaries)
    local.start()
    assert local.ports is not None
    records = list(local.records)
    assert [r.name for r in records] == ["etcd", "kube-apiserver", "kube-controller-manager"]
    assert all(processes.is_running(r) for r in records)
    assert _port_open(local.ports.apiserver)
    assert len(list(processes.find_referencing(local.state_dir))) >= 3

    local.stop()

    assert not any(processes.is_running(r) for r in records)
    assert list(processes.find_referencing(local.state_dir)) == []
    for port in (local.ports.apiserver, local.ports.etcd_client, local.ports.controller_manager):
        assert not _port_open(port), f"port {port} still accepts connections"
    local.stop()  # idempotent

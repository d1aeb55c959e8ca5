"""A node's state folder must leave kubelet room for its unix sockets (107 bytes at most, the
deepest ``node/kubelet/root/pod-resources/<10 digits>``): a longer one is refused when the
cluster is made, naming the limit, rather than by kubelet failing to start far from the cause."""

from __future__ import annotations

import pathlib

import pytest

from stigg_localcluster import cluster

DEEPEST = len("/node/kubelet/root/pod-resources/0123456789")


def test_a_state_folder_that_fits_is_accepted() -> None:
    fits = pathlib.Path("/" + "s" * (107 - DEEPEST - 1))
    assert cluster.LocalCluster(fits, node=True).state_dir == fits


def test_one_byte_more_is_refused_with_the_room_named() -> None:
    too_long = pathlib.Path("/" + "s" * (107 - DEEPEST))
    with pytest.raises(
        cluster.ClusterError,
        match=rf"too long for a node \({107 - DEEPEST + 1} bytes; at most {107 - DEEPEST}\)",
    ):
        cluster.LocalCluster(too_long, node=True)


def test_without_a_node_any_length_will_do() -> None:
    assert cluster.LocalCluster(pathlib.Path("/" + "s" * 200), node=False).sandbox is None

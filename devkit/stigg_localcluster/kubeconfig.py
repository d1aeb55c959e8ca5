"""Client-certificate kubeconfigs for the local control plane."""

from __future__ import annotations

import os
import pathlib

import yaml


def write(
    path: pathlib.Path,
    *,
    server: str,
    ca_file: pathlib.Path,
    cert_file: pathlib.Path,
    key_file: pathlib.Path,
    name: str = "stigg-local",
) -> pathlib.Path:
    """Write a kubeconfig with one cluster, user and current context, readable by its owner only."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": name, "cluster": {"server": server, "certificate-authority": str(ca_file)}},
        ],
        "users": [
            {
                "name": name,
                "user": {"client-certificate": str(cert_file), "client-key": str(key_file)},
            },
        ],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
        "preferences": {},
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        yaml.safe_dump(config, handle, sort_keys=False)
    return path

"""The wrapper Go module pins every staging module of the Kubernetes release it builds.

k8s.io/kubernetes replaces each ``k8s.io/<staging>`` module with a ``./staging`` path; the
wrapper must replace each of them with the matching ``v0.Y.Z`` release, or the build fails
(or worse, mixes versions). This reads the release's own go.mod from the Go module cache.
"""

from __future__ import annotations

import json
import pathlib
import re
import subprocess

from stigg_localcluster import build


def _replaces(text: str) -> dict[str, str]:
    return dict(re.findall(r"^\s*(k8s\.io/\S+)\s+=>\s+(\S+(?:\s+v\S+)?)\s*$", text, re.M))


def test_every_staging_module_is_replaced_with_the_matching_release() -> None:
    versions = build.pinned_versions()
    moddir = build.GOMOD_DIR / "kubernetes"
    listed = subprocess.run(
        ["go", "mod", "download", "-json", f"k8s.io/kubernetes@{versions.kubernetes}"],
        cwd=moddir,
        capture_output=True,
        text=True,
        check=True,
        env=build._go_env(),
    )
    upstream = _replaces(pathlib.Path(json.loads(listed.stdout)["GoMod"]).read_text())
    staging = {module for module, target in upstream.items() if target.startswith("./staging/")}
    ours = _replaces((moddir / "go.mod").read_text())

    release = "v0." + versions.kubernetes.removeprefix("v1.")
    # Staging modules that are never published (sample code) cannot be, and need not be, replaced.
    unpublished = {"k8s.io/sample-cli-plugin", "k8s.io/sample-controller"}
    assert set(ours) == staging - unpublished
    assert all(target == f"{module} {release}" for module, target in ours.items())


def test_cache_folder_is_named_after_the_pinned_versions() -> None:
    versions = build.pinned_versions()
    assert versions.kubernetes.startswith("v1.")
    assert versions.etcd.startswith("v3.")
    bindir = build.binaries(versions).kube_apiserver.parent
    assert bindir.parent.name == f"k8s-{versions.kubernetes}-etcd-{versions.etcd}-r{build.RECIPE_REVISION}"
    assert not bindir.is_relative_to(build.GOMOD_DIR.parents[2]), "binaries must stay outside the repo"

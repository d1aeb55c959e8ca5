"""Stigg's own client libraries, installed outside git, for the tests that use them as peers of
the upstream emulator and of the sidecar. This module is the one way they are installed.

- ``node_server_sdk()``: Stigg's Node server SDK (npm ``@stigg/node-server-sdk``) with the exact
  dependency tree of ``stigg_peers/package-lock.json``, installed by ``npm ci`` into
  ``<cache>/stigg-node-sdk/<version>/``. It returns that folder: a Node script run there (or
  given it in ``NODE_PATH``) can ``require("@stigg/node-server-sdk")``. The version is
  ``NODE_SDK_VERSION``, 3.95.0, the newest that installs from the npm registry reached here
  (4.x needs ``@stigg/api-client-js`` 6.x, which it does not serve).
- ``python_clients()``: Stigg's Python clients, the sidecar SDK (``stigg-sidecar-sdk``
  ``PYTHON_SIDECAR_SDK_VERSION``, driven by ``tests/stigg_sdk``) and the API client
  (``stigg-api-client-v2`` ``PYTHON_API_CLIENT_VERSION``, a peer of the emulator's tests), in
  one virtual environment of their own, ``<cache>/stigg-python-clients/<versions>/venv``, with
  the exact versions of ``stigg_peers/python-clients-requirements.txt`` (installed without
  resolving, then ``pip check``-ed); it returns that environment's ``python``. They cannot join
  the project's ``.venv``: the API client requires ``pydantic<2.13`` while the pinned
  ``kubernetes`` client requires ``pydantic>=2.14.2``.

``<cache>`` is ``$XDG_CACHE_HOME`` or ``~/.cache``. Both are idempotent and safe to call from
several processes at once: an install runs under an exclusive lock, and is recorded by a
marker file holding a digest of its pins (and, for Python, of the interpreter that made the
environment), written last, so a finished install is reused, an interrupted one is redone, and
changed pins install again. A failed install raises ``PeerInstallError`` with the tail of the
tool's output. They need ``npm`` (and ``node`` to run the SDK) or Python's ``venv``, and the
package registries. ``python -m stigg_devkit.stigg_sdks node|python`` installs one if needed
and prints its folder or interpreter (``make install`` runs it for ``python``).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import pathlib
import shutil
import subprocess
import sys
import venv
from collections.abc import Callable

from stigg_devkit import locks

NODE_SDK_VERSION = "3.95.0"
PYTHON_SIDECAR_SDK_VERSION = "8.1.0"
PYTHON_API_CLIENT_VERSION = "6.25.0"
PEERS = pathlib.Path(__file__).with_name("stigg_peers")
NODE_MANIFESTS = (PEERS / "package.json", PEERS / "package-lock.json")
PYTHON_REQUIREMENTS = PEERS / "python-clients-requirements.txt"
_MARKER = ".installed"
_INSTALL_TIMEOUT = 600.0


class PeerInstallError(RuntimeError):
    """Stigg's client could not be installed; the message ends with the tool's output."""


def cache_root() -> pathlib.Path:
    base = os.environ.get("XDG_CACHE_HOME")
    return pathlib.Path(base) if base else pathlib.Path.home() / ".cache"


def node_server_sdk() -> pathlib.Path:
    """The folder whose ``node_modules`` holds Stigg's Node server SDK (installed if needed)."""
    npm = shutil.which("npm")
    if npm is None:
        raise PeerInstallError("npm is not installed: Stigg's Node SDK cannot be installed")
    folder = cache_root() / "stigg-node-sdk" / NODE_SDK_VERSION
    digest = _digest(*(path.read_bytes() for path in NODE_MANIFESTS))

    def install() -> None:
        shutil.rmtree(folder / "node_modules", ignore_errors=True)
        for manifest in NODE_MANIFESTS:
            shutil.copyfile(manifest, folder / manifest.name)
        _run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=folder, what="npm ci")

    _ensure(folder, digest, install)
    return folder


def python_clients() -> pathlib.Path:
    """The ``python`` of a virtual environment holding Stigg's Python sidecar SDK and API client."""
    versions = f"sidecar-sdk-{PYTHON_SIDECAR_SDK_VERSION}-api-client-{PYTHON_API_CLIENT_VERSION}"
    folder = cache_root() / "stigg-python-clients" / versions
    digest = _digest(PYTHON_REQUIREMENTS.read_bytes(), sys.version.encode())
    python = folder / "venv" / "bin" / "python"

    def install() -> None:
        shutil.rmtree(folder / "venv", ignore_errors=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(folder / "venv")
        command = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        _run([*command, "--no-deps", "-r", str(PYTHON_REQUIREMENTS)], cwd=folder, what="pip install")
        _run([str(python), "-m", "pip", "check"], cwd=folder, what="pip check")

    _ensure(folder, digest, install)
    return python


def _digest(*parts: bytes) -> str:
    hashed = hashlib.sha256()
    for part in parts:
        hashed.update(hashlib.sha256(part).digest())
    return hashed.hexdigest()


def _ensure(folder: pathlib.Path, digest: str, install: Callable[[], None]) -> None:
    """Run ``install`` unless ``folder`` holds a finished install of the same ``digest``."""
    marker = folder / _MARKER
    with locks.exclusive(folder):
        if marker.is_file() and marker.read_text().strip() == digest:
            return
        marker.unlink(missing_ok=True)
        install()
        marker.write_text(digest + "\n")


def _run(command: list[str], *, cwd: pathlib.Path, what: str) -> None:
    try:
        done = subprocess.run(
            command,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=_INSTALL_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise PeerInstallError(f"{what} did not finish within {_INSTALL_TIMEOUT:.0f} s") from exc
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).strip()[-2000:]
        raise PeerInstallError(f"{what} failed (exit status {done.returncode}):\n{tail}")


def main(argv: list[str] | None = None) -> None:
    """``python -m stigg_devkit.stigg_sdks node|python``: install if needed, print where it is."""
    parser = argparse.ArgumentParser(prog="python -m stigg_devkit.stigg_sdks", description=main.__doc__)
    parser.add_argument("peer", choices=["node", "python"])
    which = parser.parse_args(argv).peer
    try:
        print(node_server_sdk() if which == "node" else python_clients())
    except PeerInstallError as error:
        sys.exit(str(error))


if __name__ == "__main__":
    main()

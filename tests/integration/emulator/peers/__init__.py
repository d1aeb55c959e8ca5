"""Stigg's own clients as peers of the emulator: the scripts they run (in this folder) and one
way to run them, on loopback only, as child processes that print one JSON document."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
from typing import Any

from stigg_devkit import childproc

HERE = pathlib.Path(__file__).parent
PYTHON_CLIENT_SCRIPT = HERE / "stigg_python_client.py"
NODE_SDK_SCRIPT = HERE / "stigg_node_sdk.js"
_PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


def loopback_env(**extra: str) -> dict[str, str]:
    """This environment without proxy settings (the peers reach 127.0.0.1 only), plus ``extra``."""
    env = {name: value for name, value in os.environ.items() if name not in _PROXY_VARIABLES}
    return {**env, "NO_PROXY": "127.0.0.1,localhost", **extra}


def run_json(
    argv: list[str],
    *,
    env: dict[str, str],
    stdin: Any = None,
    cwd: pathlib.Path | None = None,
    timeout: float = 120,
) -> Any:
    """Run a peer and return the JSON it printed on its last line of stdout (its logs go to stderr)."""
    done = subprocess.run(
        childproc.tied(argv),
        input=None if stdin is None else json.dumps(stdin),
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=timeout,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    shown = (
        f"{argv[0]} exited {done.returncode}:\nstdout: {done.stdout[-3000:]}\nstderr: {done.stderr[-3000:]}"
    )
    assert done.returncode == 0, shown
    assert lines, shown
    return json.loads(lines[-1])

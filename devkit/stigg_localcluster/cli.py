"""``stigg-localcluster``: a local control plane for a person at a terminal.

    stigg-localcluster build            build the binaries if missing (``--force`` rebuilds)
    eval "$(stigg-localcluster up)"     start a cluster in the background; stdout is the export line
    stigg-localcluster status           say whether it runs, and where
    stigg-localcluster down             stop it and every process it started

Progress goes to stderr, so ``eval "$(stigg-localcluster up)"`` sets ``KUBECONFIG`` directly.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

from stigg_localcluster import build, cluster, processes


def default_state_dir(name: str) -> pathlib.Path:
    return build.cache_root() / "clusters" / name


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _cmd_build(args: argparse.Namespace) -> int:
    binaries = build.ensure_built(force=args.force)
    for path in binaries.all():
        print(path)
    return 0


def _cmd_up(args: argparse.Namespace) -> int:
    state_dir: pathlib.Path = args.state_dir or default_state_dir(args.name)
    try:
        existing = cluster.LocalCluster.load(state_dir)
    except cluster.ClusterError:
        existing = None
    if existing is not None and existing.running():
        _say(f"cluster {args.name!r} is already running at {existing.server}")
        print(f"export KUBECONFIG={existing.kubeconfig_path}")
        return 0
    if existing is not None:  # a half-dead leftover: clear it before starting afresh
        existing.stop()
    binaries = build.ensure_built()
    state_dir.mkdir(parents=True, exist_ok=True)
    local = cluster.LocalCluster(state_dir, attached=False, binaries=binaries)
    started = time.monotonic()
    local.start(timeout=args.timeout)
    _say(f"cluster {args.name!r} ready at {local.server} in {time.monotonic() - started:.1f}s")
    which = f"--state-dir {state_dir}" if args.state_dir else f"--name {args.name}"
    _say(f"logs: {local.logs_dir}   stop it with: stigg-localcluster down {which}")
    print(f"export KUBECONFIG={local.kubeconfig_path}")
    return 0


def _cmd_down(args: argparse.Namespace) -> int:
    state_dir: pathlib.Path = args.state_dir or default_state_dir(args.name)
    try:
        local = cluster.LocalCluster.load(state_dir)
    except cluster.ClusterError:
        _say(f"no cluster {args.name!r} is running")
        return 0
    local.stop()
    left = list(processes.find_referencing(state_dir))
    if left:
        _say(f"processes still reference {state_dir}: {[pid for pid, _ in left]}")
        return 1
    _say(f"cluster {args.name!r} stopped")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    state_dir: pathlib.Path = args.state_dir or default_state_dir(args.name)
    try:
        local = cluster.LocalCluster.load(state_dir)
    except cluster.ClusterError:
        print(f"{args.name}: not running")
        return 1
    for record in local.records:
        state = "running" if processes.is_running(record) else "stopped"
        print(f"{record.name:<26} pid {record.pid:<8} {state:<8} log {record.log}")
    print(f"server     {local.server}\nkubeconfig {local.kubeconfig_path}")
    return 0 if local.running() else 1


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="stigg-localcluster", description=__doc__.split("\n\n")[0])
    commands = root.add_subparsers(dest="command", required=True)
    build_cmd = commands.add_parser("build", help="build the control-plane binaries if missing")
    build_cmd.add_argument("--force", action="store_true", help="rebuild even if present")
    build_cmd.set_defaults(func=_cmd_build)
    for name, func, text in (
        ("up", _cmd_up, "start a cluster in the background and print the KUBECONFIG export"),
        ("down", _cmd_down, "stop the cluster and every process it started"),
        ("status", _cmd_status, "show the cluster's processes"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("--name", default="default", help="which local cluster (default: %(default)s)")
        command.add_argument("--state-dir", type=pathlib.Path, help="override the cluster's state folder")
        if name == "up":
            command.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for ready")
        command.set_defaults(func=func)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except (cluster.ClusterError, build.BuildError) as error:
        _say(f"error: {error}")
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())

"""``stigg-localcluster``: a local cluster for a person at a terminal.

    stigg-localcluster build            build every binary if missing (``--force`` rebuilds)
    stigg-localcluster build-tools [T…] build the tools the tests run beside it if missing
                                        (helm, promtool, prometheus; default: all of them)
    eval "$(stigg-localcluster up)"     start a cluster with a node in the background, wait
                                        until the Node is Ready; stdout is the export line
    stigg-localcluster status           say whether it runs, where, and the node's processes
    stigg-localcluster load-images A…   import OCI image archives into the node's containerd
                                        (as ``kind load image-archive`` does for kind)
    stigg-localcluster down             stop it and every process it started

``up`` starts the control plane and a real node (containerd, kubelet, kube-proxy in namespaces
of their own, see ``sandbox``), so Pods run; ``up --control-plane-only`` starts etcd, the
apiserver and the controller-manager alone, in seconds, for work on admission or controllers
(Pods then stay Pending). ``down`` works for either from any process: it reads the state
folder, stops every recorded process, and for a node removes its cgroup root; it fails if a
process still names the state folder or the cgroup root is still there.

Progress goes to stderr, so ``eval "$(stigg-localcluster up)"`` sets ``KUBECONFIG`` directly.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import time

from stigg_localcluster import audit, build, cgroups, cluster, node, processes, sandbox


def default_state_dir(name: str) -> pathlib.Path:
    return build.cache_root() / "clusters" / name


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _cmd_build(args: argparse.Namespace) -> int:
    binaries = build.ensure_built(force=args.force, node=True)
    for path in (*binaries.all(), binaries.pause_image):
        print(path)
    return 0


def _cmd_build_tools(args: argparse.Namespace) -> int:
    unknown = sorted(set(args.tools) - set(build.TOOLS))
    if unknown:
        raise build.BuildError(
            f"no such tool: {', '.join(unknown)} (known: {', '.join(sorted(build.TOOLS))})"
        )
    for name in args.tools or build.TOOLS:
        print(build.ensure_tool(name))
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
    with_node = not args.control_plane_only
    binaries = build.ensure_built(node=with_node)
    state_dir.mkdir(parents=True, exist_ok=True)
    local = cluster.LocalCluster(state_dir, attached=False, binaries=binaries, node=with_node)
    started = time.monotonic()
    local.start(timeout=args.timeout)
    what = f"with Node {node.NODE_NAME} Ready" if with_node else "control plane only, no node"
    _say(f"cluster {args.name!r} ready at {local.server} ({what}) in {time.monotonic() - started:.1f}s")
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
    try:
        local.stop()
    except (sandbox.SandboxError, OSError) as error:  # stopped half-way: what is left is said below
        _say(f"error while stopping: {error}")
    left = audit.leftovers(state_dir, host_paths=False)
    if left:
        _say("left behind:\n  " + "\n  ".join(left))
        return 1
    _say(f"cluster {args.name!r} stopped")
    return 0


def _cmd_load_images(args: argparse.Namespace) -> int:
    state_dir: pathlib.Path = args.state_dir or default_state_dir(args.name)
    local = cluster.LocalCluster.load(state_dir)
    if not local.running() or local.sandbox is None:
        _say(f"cluster {args.name!r} is not running with a node")
        return 1
    local.import_images(args.archives)
    for archive in args.archives:
        _say(f"imported {archive}")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    state_dir: pathlib.Path = args.state_dir or default_state_dir(args.name)
    try:
        local = cluster.LocalCluster.load(state_dir)
    except cluster.ClusterError:
        print(f"{args.name}: not running")
        return 1
    records = list(local.records)
    box = local.sandbox
    if box is not None and box.reaper is not None:
        records.append(box.reaper)
    for record in records:
        state = "running" if processes.is_running(record) else "stopped"
        print(f"{record.name:<26} pid {record.pid:<8} {state:<8} log {record.log}")
    if box is not None:
        members = box.members()
        print(f"node {node.NODE_NAME}: {len(members)} processes in the sandbox (host pids)")
        for pid, cmdline in members:
            line = " ".join((os.path.basename(cmdline[0]), *cmdline[1:]))
            print(f"  {pid:<8} {line[:150]}")
        print(f"cgroup     /{box.cgroup} (in {len(cgroups.existing(box.cgroup))} hierarchies)")
    print(f"server     {local.server}\nkubeconfig {local.kubeconfig_path}")
    return 0 if local.running() else 1


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="stigg-localcluster", description=__doc__.split("\n\n")[0])
    commands = root.add_subparsers(dest="command", required=True)
    build_cmd = commands.add_parser("build", help="build every binary (control plane and node) if missing")
    build_cmd.add_argument("--force", action="store_true", help="rebuild even if present")
    build_cmd.set_defaults(func=_cmd_build)
    tools_cmd = commands.add_parser(
        "build-tools", help="build the tools the tests use (helm, promtool, prometheus)"
    )
    tools_cmd.add_argument(
        "tools", nargs="*", metavar="TOOL", help=f"which (default: all of {sorted(build.TOOLS)})"
    )
    tools_cmd.set_defaults(func=_cmd_build_tools)
    for name, func, text in (
        ("up", _cmd_up, "start a cluster with a node in the background and print the KUBECONFIG export"),
        ("down", _cmd_down, "stop the cluster and every process it started"),
        ("status", _cmd_status, "show the cluster's processes, the node's included"),
        ("load-images", _cmd_load_images, "import OCI image archives into the node (no registry)"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("--name", default="default", help="which local cluster (default: %(default)s)")
        command.add_argument("--state-dir", type=pathlib.Path, help="override the cluster's state folder")
        if name == "up":
            command.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for ready")
            command.add_argument(
                "--control-plane-only",
                action="store_true",
                help="no node: etcd, kube-apiserver and kube-controller-manager only (Pods stay Pending)",
            )
        if name == "load-images":
            command.add_argument("archives", nargs="+", type=pathlib.Path, help="OCI archives (make images)")
        command.set_defaults(func=func)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except (cluster.ClusterError, sandbox.SandboxError, build.BuildError) as error:
        _say(f"error: {error}")
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())

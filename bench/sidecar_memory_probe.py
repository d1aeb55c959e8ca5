"""The breakdown of ``bench/sidecar_memory.py``, in an interpreter of its own (so that nothing
the benchmark imports is counted): ``python bench/sidecar_memory_probe.py ENV [LOADED]``.

ENV is the sidecar's environment (JSON). Without LOADED: start a sidecar in-process from ENV and
print the top-level modules it has loaded. With LOADED (that list): import, in the sidecar's
order, each group of modules below that the sidecar loads, reading ``VmRSS`` after each, then
the sidecar's own modules, then start it (gRPC server, probe port, outbox) and read it again;
print the steps and the names of the process's threads. Only ``sys`` and ``json`` are imported
before the first reading; asyncio (which the sidecar imports first) and the few modules the
probe itself uses are the second.
"""

import json
import sys


def _rss_mib() -> float:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split(maxsplit=2)[1]) / 1024


BASELINE = _rss_mib()

import asyncio  # noqa: E402 -- after the baseline: the sidecar's first group
import gc  # noqa: E402
import importlib  # noqa: E402
import pathlib  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402

WITH_ASYNCIO = _rss_mib()

# Module groups in the order the sidecar imports them: (label, modules).
GROUPS = (
    ("grpc (grpcio's core)", ("grpc",)),
    ("protobuf, the generated code, health and reflection",
     ("google.protobuf", "stigg_sidecar.v1.sidecar_pb2", "stigg_sidecar.v1.sidecar_pb2_grpc",
      "grpc_health.v1.health", "grpc_reflection.v1alpha.reflection")),
    ("sqlite3 (the outbox)", ("sqlite3",)),
    ("aiohttp", ("aiohttp",)),
    ("prometheus_client", ("prometheus_client",)),
    ("yaml", ("yaml",)),
    ("redis", ("redis.asyncio",)),
)  # fmt: skip


def _thread_names() -> list[str]:
    return sorted((task / "comm").read_text().strip() for task in pathlib.Path("/proc/self/task").iterdir())


def main(env: dict[str, str], loaded: list[str] | None) -> int:
    steps = [("the interpreter and site", BASELINE), ("asyncio (with ssl, concurrent.futures)", WITH_ASYNCIO)]
    if loaded is not None:
        for label, modules in GROUPS:
            wanted = [m for m in modules if m.split(".")[0] in loaded]
            if wanted:
                for module in wanted:
                    importlib.import_module(module)
                gc.collect()
                steps.append((label, _rss_mib()))
    from stigg_sidecar import server, settings  # noqa: PLC0415 -- measured: after the groups

    gc.collect()
    steps.append(("the sidecar's own modules (and the stdlib they add)", _rss_mib()))
    state = tempfile.mkdtemp(prefix="bench-memory-probe-")
    env = {**env, "SIDECAR_BIND_ADDRESS": "127.0.0.1", "GRPC_PORT": "0", "SIDECAR_HTTP_PORT": "0",
           "SIDECAR_STATE_DIR": state}  # fmt: skip

    async def start() -> tuple[list[str], list[str]]:
        sidecar = server.Sidecar(settings.Settings.from_env(env))
        await sidecar.start()
        await asyncio.sleep(1.0)
        steps.append(("started (gRPC server and its threads, probe port, outbox)", _rss_mib()))
        names = sorted(m for m in sys.modules if "." not in m)
        threads = _thread_names()
        await sidecar.stop()
        return names, threads

    names, threads = asyncio.run(start())
    shutil.rmtree(state, ignore_errors=True)
    print(json.dumps({"loaded": names, "steps": steps, "threads": threads}))
    return 0


if __name__ == "__main__":
    sys.exit(main(json.loads(sys.argv[1]), json.loads(sys.argv[2]) if sys.argv[2:] else None))

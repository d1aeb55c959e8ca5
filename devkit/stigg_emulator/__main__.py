"""``python -m stigg_emulator`` (also ``stigg-upstream-emulator``): run the emulator.

    python -m stigg_emulator [--catalog FILE] [--host 127.0.0.1] [--port 0]
        [--api-key KEY] [--latency-ms 100] [--jitter-ms 0] [--error-rate 0] [--seed N]
        [--legacy-only]

It binds loopback unless told otherwise; with ``--port 0`` (the default) the kernel picks a
free port. Once listening it prints exactly one line, ``listening on http://HOST:PORT``, to
stdout (flushed) and nothing else there, so a parent process can read the address; logs go to
stderr. SIGTERM or SIGINT stops it cleanly (in-flight requests get a few seconds) with exit
status 0; an invalid catalog exits with status 2 and a message naming the place in the file.
SIGHUP re-reads the catalog file, like ``POST /_emulator/catalog/reload`` (publishing what
changed on the stream); an invalid file is logged and changes nothing.

The API key comes from ``--api-key``, else the ``STIGG_EMULATOR_API_KEY`` environment variable
(preferred: a command line is visible to every local user), else ``DEFAULT_API_KEY``, a fixed
development value that is not a secret. Without ``--catalog`` the packaged sample is served.
``--legacy-only`` starts with the ``legacyOnly`` fault switch on (the stream refuses the V2
subscriptions, see ``faults``).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import pathlib
import signal
import sys
from collections.abc import Sequence

from aiohttp import web

from stigg_emulator import app, catalog, faults, loading, state

API_KEY_ENV = "STIGG_EMULATOR_API_KEY"
DEFAULT_API_KEY = "emulator-development-key"  # a documented development default, not a secret
SHUTDOWN_TIMEOUT = 3.0

logger = logging.getLogger("stigg_emulator")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stigg-upstream-emulator",
        description="Serve Stigg's Edge and GraphQL endpoints from a YAML catalog (for tests and demos).",
    )
    parser.add_argument("--catalog", type=str, default=str(catalog.SAMPLE_PATH), help="catalog YAML file")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 lets the kernel pick (default)")
    parser.add_argument("--api-key", default=None, help=f"the accepted X-API-KEY (better: ${API_KEY_ENV})")
    parser.add_argument("--latency-ms", type=float, default=faults.DEFAULT_LATENCY_MS, help="added latency")
    parser.add_argument(
        "--jitter-ms", type=float, default=0.0, help="extra uniform random latency, up to this"
    )
    parser.add_argument("--error-rate", type=float, default=0.0, help="fraction of requests answered 500")
    parser.add_argument("--seed", type=int, default=None, help="seed of the fault injection's random draws")
    parser.add_argument(
        "--legacy-only",
        action="store_true",
        help="refuse the V2 subscriptions on the stream, as a server from before them would",
    )
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = faults.FaultSettings(
            latency_ms=args.latency_ms,
            jitter_ms=args.jitter_ms,
            error_rate=args.error_rate,
            legacy_only=args.legacy_only,
        )
    except faults.FaultSettingsError as exc:
        parser.error(str(exc))
    catalog_path = pathlib.Path(args.catalog)
    try:
        loaded = loading.load(catalog_path)
    except loading.CatalogError as exc:
        print(f"stigg-upstream-emulator: invalid catalog: {exc}", file=sys.stderr)
        return 2
    api_key = args.api_key or os.environ.get(API_KEY_ENV) or DEFAULT_API_KEY
    emulator = state.EmulatorState(loaded, catalog_path=catalog_path, fault_settings=settings, seed=args.seed)
    try:
        asyncio.run(_serve(emulator, api_key=api_key, host=args.host, port=args.port))
    except OSError as exc:
        print(f"stigg-upstream-emulator: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0


async def _serve(emulator: state.EmulatorState, *, api_key: str, host: str, port: int) -> None:
    runner = web.AppRunner(
        app.create_app(emulator, api_key=api_key), access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        shown_host = f"[{bound_host}]" if ":" in bound_host else bound_host
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stopping.set)
        loop.add_signal_handler(signal.SIGHUP, _reload, emulator)
        logger.info(
            "serving %d customers from %s (faults: %s)",
            len(emulator.customers),
            emulator.catalog_path,
            emulator.faults.settings.as_json(),
        )
        print(f"listening on http://{shown_host}:{bound_port}", flush=True)
        await stopping.wait()
        logger.info("stopping")
    finally:
        await runner.cleanup()


def _reload(emulator: state.EmulatorState) -> None:
    try:
        emulator.reload()
    except loading.CatalogError as exc:
        logger.error("SIGHUP: the catalog was not reloaded: %s", exc)
        return
    logger.info("SIGHUP: catalog reloaded from %s", emulator.catalog_path)


if __name__ == "__main__":
    sys.exit(main())

"""The sidecar process: gRPC (with health and reflection) and HTTP (probes, metrics), and a
graceful shutdown.

``main`` reads the settings once, configures logging, and runs ``Sidecar`` until SIGTERM or
SIGINT. On a signal the sidecar reports NOT_SERVING (gRPC health) and 503 (``/readyz``) at
once, lets in-flight calls finish within the grace period, then closes the upstream client.

HTTP (``SIDECAR_HTTP_PORT``): ``/livez`` answers ``{"status":"UP"}`` while the process runs;
``/readyz`` answers it once the defaults are loaded and gRPC serves. Upstream trouble is shown
in ``/readyz``'s body and in the metrics, but does not make the sidecar unready: a fail-safe
sidecar still answers (from cache or defaults) when the upstream is down. ``/metrics`` is the
Prometheus exposition. Both ports are bounded (``grpc_options``, ``probe_port``) and share the
process's file descriptors so that neither can starve the other (``descriptors``).

With ``WS_ENABLED`` (the default) the sidecar follows the upstream's real-time stream
(``upstream.stream`` connects, ``realtime`` applies); ``/readyz`` shows it as ``"stream":
"live"``, ``"connecting"`` or ``"disabled"``, and the protocol followed as ``"streamProtocol":
"v2"`` or ``"legacy"``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from stigg_sidecar import (
    cache,
    checker,
    defaults,
    descriptors,
    logs,
    metrics,
    outbox,
    pending,
    probe_port,
    realtime,
    servicer,
    settings,
    shared_cache,
    store,
    writes,
)
from stigg_sidecar.mirror import hub
from stigg_sidecar.mirror import service as mirror_service
from stigg_sidecar.upstream import breaker, stigg
from stigg_sidecar.v1 import sidecar_pb2

if TYPE_CHECKING:
    from stigg_sidecar.upstream import stream

logger = logging.getLogger(__name__)
SERVICE_NAME = sidecar_pb2.DESCRIPTOR.services_by_name["SidecarService"].full_name


def grpc_options(config: settings.Settings, max_connections: int) -> list[tuple[str, int]]:
    """The gRPC server's bounds: at most ``max_connections`` connections (more are closed as
    soon as accepted) and ``SIDECAR_GRPC_MAX_CONCURRENT_STREAMS`` calls in flight on each (more
    are refused with REFUSED_STREAM, which grpc-core clients report as UNAVAILABLE rather than
    queue); a connection must send its HTTP/2 preface within 10 s; no client holds a connection
    open forever; keepalive pings are enforced (a client pinging more often than every 10 s
    without calls is told to go away)."""
    return [
        ("grpc.so_reuseport", 0),
        ("grpc.max_allowed_incoming_connections", max_connections),
        ("grpc.max_concurrent_streams", config.grpc_max_concurrent_streams),
        ("grpc.server_handshake_timeout_ms", 10_000),
        ("grpc.max_connection_idle_ms", int(config.grpc_max_connection_idle_seconds * 1000)),
        ("grpc.max_connection_age_ms", int(config.grpc_max_connection_age_seconds * 1000)),
        ("grpc.max_connection_age_grace_ms", 30_000),
        ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
        ("grpc.http2.max_ping_strikes", 2),
        ("grpc.keepalive_permit_without_calls", 0),
    ]


class Sidecar:
    """One running sidecar: build it from settings, ``start()``, then ``stop()``."""

    def __init__(self, config: settings.Settings) -> None:
        self.settings = config
        self.metrics = metrics.Metrics()
        self.defaults = defaults.Defaults(config.fallback, config.defaults_dir)
        upstream = None
        if not config.offline:
            upstream = stigg.StiggUpstream(
                api_key=config.api_key,
                api_url=config.api_url,
                edge_enabled=config.edge_enabled,
                edge_api_url=config.edge_api_url,
                timeout=config.upstream_timeout_seconds,
                retries=config.upstream_retries,
                circuit=breaker.Breaker(
                    failures=config.breaker_failures, reset_after=config.breaker_reset_seconds
                ),
                sidecar_metrics=self.metrics,
            )
        self.upstream = upstream
        self.shared = (
            shared_cache.SharedCache(config.redis, self.metrics)
            if config.redis is not None and not config.offline
            else None
        )
        self.ledger = pending.Ledger()
        self.store = store.EntitlementStore(
            entries=cache.Cache(max_bytes=config.cache_max_size_bytes),
            upstream=upstream,
            shared=self.shared,
            ledger=self.ledger,
            policy=store.Policy(ttl=config.cache_ttl_seconds, negative_ttl=config.negative_cache_ttl_seconds),
            sidecar_metrics=self.metrics,
            upstream_concurrency=config.upstream_concurrency,
            upstream_queue=config.upstream_queue,
            # Short of a check's own wait for a load (the upstream timeout), so the check still
            # gets the load's answer when the report stays in doubt (writes failing meanwhile).
            doubt_wait=min(1.0, config.upstream_timeout_seconds / 2),
        )
        self.outbox: outbox.Outbox | None = None
        self.drainer: outbox.Drainer | None = None
        if upstream is not None:
            self.outbox = outbox.Outbox(
                config.state_dir / outbox.FILE_NAME, max_items=config.outbox_max_items
            )
            self.drainer = outbox.Drainer(
                self.outbox, upstream, self.metrics, ledger=self.ledger, settled=self.store.settled
            )
        self.checker = checker.Checker(
            entitlements=self.store,
            static_defaults=self.defaults,
            sidecar_metrics=self.metrics,
            max_stale=config.max_stale_seconds,
            wait_limit=config.upstream_timeout_seconds,
        )
        self.writer = writes.Writer(
            entitlements=self.store,
            ledger=self.ledger,
            usage_outbox=self.outbox,
            wake_drainer=self.drainer.wake if self.drainer is not None else _nothing,
        )
        self.mirror: hub.Hub | None = None
        if config.mirror_enabled:
            self.mirror = hub.Hub(
                self.store,
                self.metrics,
                buffer=config.mirror_buffer,
                heartbeat=config.mirror_heartbeat_seconds,
            )
        self.follower: realtime.Follower | None = None
        self.stream: stream.StreamClient | None = None
        if config.ws_enabled and upstream is not None:
            # Imported only with the stream on: its WebSocket client is aiohttp's.
            from stigg_sidecar.upstream import stream  # noqa: PLC0415

            resync = realtime.ResyncPolicy(
                jitter=config.resync_jitter_seconds,
                rate=config.resync_rate,
                concurrency=max(1, config.upstream_concurrency // 2),  # the rest for checks' loads
            )
            self.follower = realtime.Follower(self.store, self.metrics, resync)
            self.stream = stream.StreamClient(
                url=config.ws_url,
                api_key=config.api_key,
                listener=self.follower,
                sidecar_metrics=self.metrics,
                keepalive=config.ws_keepalive_seconds,
                reconnect_max=config.ws_reconnect_max_seconds,
            )
        self.health = health.aio.HealthServicer()
        self.grpc_server: grpc.aio.Server | None = None
        self.probes: probe_port.ProbePort | None = None
        self.grpc_port = 0
        self.http_port = 0
        self.serving = False
        self._watcher: asyncio.Task[None] | None = None
        self._drainer: asyncio.Task[None] | None = None
        self._background: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        config = self.settings
        self.defaults.refresh()
        self._watcher = asyncio.create_task(self.defaults.watch(config.defaults_poll_seconds))
        if self.outbox is not None and self.drainer is not None:
            restored = await self.outbox.usage_reports()  # accepted before a restart
            for report, begun in restored:  # in order: a SET replaces what came before
                self.ledger.add([report], in_doubt=begun)
            self._drainer = asyncio.create_task(self.drainer.run())
        if self.stream is not None:
            self._background.append(asyncio.create_task(self.stream.run()))
            if self.shared is not None:
                self._background.append(asyncio.create_task(self.store.write_shared()))

        limit = descriptors.raise_soft_limit()
        max_connections = descriptors.grpc_connection_cap(
            limit, grpc_max=config.grpc_max_connections, http_max=config.http_max_connections
        )
        if max_connections < config.grpc_max_connections:
            logger.warning(
                "%d file descriptors allowed: serving at most %d gRPC connections (not %d)",
                limit,
                max_connections,
                config.grpc_max_connections,
            )
        server = grpc.aio.server(options=grpc_options(config, max_connections))
        servicer.add_to_server(
            servicer.SidecarServicer(self.checker, self.writer, self.metrics, self.mirror), server
        )
        services = [SERVICE_NAME, reflection.SERVICE_NAME, health.SERVICE_NAME]
        if self.mirror is not None:
            mirror_service.add_to_server(mirror_service.MirrorServicer(self.mirror), server)
            services.append(mirror_service.SERVICE_NAME)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        reflection.enable_server_reflection(services, server)
        self.grpc_port = server.add_insecure_port(f"{config.bind_address}:{config.grpc_port}")
        await server.start()
        self.grpc_server = server

        probes = probe_port.ProbePort(
            {"/livez": self._livez, "/readyz": self._readyz, "/metrics": self._metrics},
            max_connections=config.http_max_connections,
            request_timeout=config.http_request_timeout_seconds,
            refused=self.metrics.http_refused_connections,
        )
        await probes.start(config.bind_address, config.http_port)
        self.probes = probes
        self.http_port = probes.port

        self.serving = True
        for name in ("", SERVICE_NAME):
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        logger.info(
            "serving gRPC on %s:%d and HTTP on %s:%d (%s)",
            config.bind_address,
            self.grpc_port,
            config.bind_address,
            self.http_port,
            "offline: defaults only" if config.offline else f"upstream {config.edge_api_url}",
        )

    async def stop(self) -> None:
        """The shutdown sequence: unready at once (``/readyz`` 503, gRPC health NOT_SERVING) while
        calls are still accepted for the shutdown delay, so Services and clients stop routing here
        first and no call that arrived is cancelled; then no new calls, in-flight ones finish
        within the grace period; then everything is released."""
        self.serving = False
        await self.health.enter_graceful_shutdown()
        if self.mirror is not None:
            self.mirror.shutdown()  # mirrored clients ask over gRPC while calls are still taken
        await asyncio.sleep(self.settings.shutdown_delay_seconds)
        if self.grpc_server is not None:
            await self.grpc_server.stop(self.settings.shutdown_grace_seconds)
        for task in (self._watcher, self._drainer, *self._background):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self.follower is not None:
            await self.follower.close()
        await self.store.close()
        if self.outbox is not None:
            self.outbox.close()
        if self.probes is not None:
            await self.probes.close()
        if self.upstream is not None:
            await self.upstream.close()
        if self.shared is not None:
            await self.shared.close()
        logger.info("stopped")

    # -- HTTP -----------------------------------------------------------------------------------

    async def _livez(self) -> probe_port.Response:
        return probe_port.json_response({"status": "UP"})

    async def _readyz(self) -> probe_port.Response:
        ready = self.serving and self.defaults.loaded
        body: dict[str, object] = {"status": "UP" if ready else "DOWN", "defaults": len(self.defaults)}
        if self.defaults.last_error:
            body["defaultsError"] = self.defaults.last_error
        if self.upstream is None:
            body["upstream"] = "offline"
        else:
            body["upstream"] = self.upstream.breaker.state.value
        if self.stream is None:
            body["stream"] = "disabled"
        else:
            body["stream"] = "live" if self.stream.connected else "connecting"
            body["streamProtocol"] = self.stream.protocol  # v2 (Stigg's current) or legacy
        return probe_port.json_response(body, status=200 if ready else 503)

    async def _metrics(self) -> probe_port.Response:
        self.metrics.cache_bytes.set(self.store.bytes)
        self.metrics.cache_entries.set(len(self.store))
        self.metrics.defaults_loaded.set(len(self.defaults))
        if self.mirror is not None:
            self.metrics.mirror_subscriptions.set(self.mirror.subscriptions)
        if self.outbox is not None:
            stats = await self.outbox.stats()
            self.metrics.outbox_depth.set(stats.depth)
            self.metrics.outbox_oldest_age.set(stats.oldest_age)
            self.metrics.outbox_dead_letters.set(stats.dead_letters)
        return probe_port.Response(self.metrics.exposition(), content_type="text/plain; charset=utf-8")


def _nothing() -> None:
    """No drainer to wake (offline)."""


async def run(config: settings.Settings) -> None:
    sidecar = Sidecar(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await sidecar.start()
    except Exception:
        sidecar.metrics.initialization_errors.inc()
        raise
    await stop.wait()
    logger.info(
        "signal received: draining (unready now, calls accepted for %ss, then up to %ss to finish)",
        config.shutdown_delay_seconds,
        config.shutdown_grace_seconds,
    )
    await sidecar.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """The ``stigg-sidecar`` command: the sidecar, or ``stigg-sidecar dead-letters ...``."""
    args = sys.argv[1:] if argv is None else list(argv)
    if args[:1] == ["dead-letters"]:
        from stigg_sidecar import deadletters  # noqa: PLC0415 -- a command of its own (argparse)

        return deadletters.main(args[1:])
    if args:
        print(
            f"stigg-sidecar: unknown arguments {args!r} (the sidecar reads its environment)", file=sys.stderr
        )
        return 2
    try:
        config = settings.Settings.from_env(os.environ)
    except settings.SettingsError as error:
        print(f"stigg-sidecar: invalid configuration: {error}", file=sys.stderr)
        return 2
    logs.configure(config.log_level)
    try:
        asyncio.run(run(config))
    except OSError as error:  # typically: the port is taken
        logger.error("cannot start: %s", error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

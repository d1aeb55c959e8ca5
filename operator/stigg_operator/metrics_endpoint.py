"""``/metrics``: the operator's ``metrics.Metrics`` served over HTTP for Prometheus to scrape.

``start`` answers ``GET /metrics`` at ``STIGG_OPERATOR_METRICS_ADDRESS``:``STIGG_OPERATOR_METRICS_PORT``
(a port of its own, beside the webhook's, kopf's liveness and ``readiness``; 0: not served) in
the Prometheus text format, or OpenMetrics when the scraper's ``Accept`` asks for it, until the
runner it returns is cleaned up (the startup starts it, and fails if the port cannot be bound;
the cleanup closes it). An aiohttp server on the operator's own event loop, as ``readiness``
is, rather than prometheus_client's ``start_http_server``: that one is a daemon thread which
cannot be stopped (it would outlive the cleanup and keep its port) and reports a port it
cannot bind only in that thread, whereas this one binds in the startup and closes with the
cleanup; rendering a registry of a few dozen series takes well under a millisecond, so answering
on the loop costs the webhook's handlers nothing (kopf runs them in threads anyway).
"""

from __future__ import annotations

from aiohttp import web

from stigg_operator import metrics

PATH = "/metrics"


def application(instruments: metrics.Metrics) -> web.Application:
    """The aiohttp application answering ``GET /metrics`` from ``instruments``."""

    async def handle(request: web.Request) -> web.Response:
        body, content_type = instruments.exposition(request.headers.get("Accept", ""))
        return web.Response(body=body, headers={"Content-Type": content_type})

    app = web.Application()
    app.router.add_get(PATH, handle)
    return app


async def start(instruments: metrics.Metrics, address: str, port: int) -> web.AppRunner:
    """Listen on ``address``:``port`` (an error if it cannot: a replica whose metrics are silent
    must not look healthy) and answer ``/metrics`` until the runner's ``cleanup``."""
    runner = web.AppRunner(application(instruments), handle_signals=False, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, address, port).start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner

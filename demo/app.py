"""The demo's application: a web service that gates each request on the sidecar beside it.

It runs in the application container of an injected Pod (the sidecar image's Python and the
``stigg_sidecar`` client, this file mounted from a ConfigMap) and reaches the sidecar where the
operator says it is (``STIGG_SIDECAR_HOST``/``STIGG_SIDECAR_PORT``: localhost in an injected
Pod, the shared Service in standalone mode). It logs one line per check, so ``kubectl logs``
shows what the application saw.

Two moments a kubelet decides are logged too: at start, whether the sidecar already answered
(a native sidecar's startup probe holds the application back until it does), and at SIGTERM,
a last usage report (``APP_FINAL_REPORT=customer:feature:value``), sent through the sidecar
``APP_SIGTERM_DELAY_SECONDS`` after the signal: the sidecar must still be serving then, as it is
when the kubelet stops a native sidecar only after the application has exited.

    GET  /healthz
    GET  /entitlement?customer=C&feature=F[&requested=N]   -> the sidecar's answer as JSON
    POST /usage?customer=C&feature=F&value=N               -> the usage report's answer

Each answer carries ``X-Sidecar-Ms``: how long the call to the sidecar took, as the app saw it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from typing import Any

import grpc
from aiohttp import web
from google.protobuf import json_format

from stigg_sidecar import client

log = logging.getLogger("demo-app")
SIDECAR = web.AppKey("sidecar", client.AsyncSidecarClient)


def _answer(message: Any) -> dict[str, Any]:
    body: dict[str, Any] = json_format.MessageToDict(message, always_print_fields_with_no_presence=True)
    return body


def _ms(began: float) -> str:
    return f"{(time.perf_counter() - began) * 1000:.2f}"


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "sidecar": client.default_target()})


async def entitlement(request: web.Request) -> web.Response:
    sidecar = request.app[SIDECAR]
    customer, feature = request.query.get("customer", ""), request.query.get("feature", "")
    requested = request.query.get("requested")
    began = time.perf_counter()
    try:
        if requested is None:
            answer = _answer(await sidecar.get_boolean_entitlement(customer, feature))
        else:
            answer = _answer(
                await sidecar.get_metered_entitlement(customer, feature, requested_usage=float(requested))
            )
    except grpc.RpcError as error:
        log.warning("check customer=%s feature=%s failed: %s", customer, feature, error.code())
        return web.json_response({"error": str(error.code()), "details": error.details()}, status=502)
    took = _ms(began)
    log.info("check customer=%s feature=%s -> %s", customer, feature, answer)
    return web.json_response(answer, headers={"X-Sidecar-Ms": took})


async def usage(request: web.Request) -> web.Response:
    sidecar = request.app[SIDECAR]
    customer, feature = request.query.get("customer", ""), request.query.get("feature", "")
    value = float(request.query.get("value", "1"))
    began = time.perf_counter()
    try:
        answer = _answer(await sidecar.report_usage(customer, feature, value))
    except grpc.RpcError as error:
        return web.json_response({"error": str(error.code()), "details": error.details()}, status=502)
    took = _ms(began)
    log.info("usage customer=%s feature=%s value=%s -> %s", customer, feature, value, answer)
    return web.json_response(answer, headers={"X-Sidecar-Ms": took})


async def _sidecar_at_start(sidecar: client.AsyncSidecarClient) -> None:
    try:
        await sidecar.get_boolean_entitlement("app-start", "app-start", timeout=2.0)
        log.info("sidecar answered at start: yes")
    except grpc.RpcError as error:
        log.warning("sidecar answered at start: no (%s)", error.code())


async def _final_report(sidecar: client.AsyncSidecarClient, spec: str) -> None:
    customer, feature, value = spec.split(":")
    try:
        answer = _answer(await sidecar.report_usage(customer, feature, float(value), timeout=5.0))
        log.info("final report at SIGTERM: %s", answer)
    except grpc.RpcError as error:
        log.warning("final report at SIGTERM failed: %s", error.code())


async def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    app = web.Application()
    sidecar = client.AsyncSidecarClient(client.default_target(), timeout=5.0)
    app[SIDECAR] = sidecar
    await _sidecar_at_start(sidecar)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/entitlement", entitlement)
    app.router.add_post("/usage", usage)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "0.0.0.0", int(os.environ.get("APP_PORT", "8000"))).start()  # noqa: S104 -- the Pod's own address
    log.info("serving; the sidecar is at %s", client.default_target())
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    log.info("SIGTERM")
    await asyncio.sleep(float(os.environ.get("APP_SIGTERM_DELAY_SECONDS", "0")))
    if final := os.environ.get("APP_FINAL_REPORT"):
        await _final_report(sidecar, final)
    await runner.cleanup()
    await sidecar.close()


if __name__ == "__main__":
    asyncio.run(main())

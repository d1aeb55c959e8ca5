"""The kopf adapters of the operator's own lifecycle: login, startup, cleanup.

* ``login``: the in-cluster service account, else the kubeconfig (as the kubernetes client
  finds them);
* ``startup``: kopf's settings (warnings and up posted as Events; progress and diff-base kept
  in annotations prefixed ``sidecar.stigg.io``, for resources a version before HA handled), the
  kube config loaded, the webhook's certificates (``serving.ensure_certs``: renewed here only if
  nothing usable exists, since the leader renews) in a live-swappable TLS context, ``/metrics``
  unless its port is 0 (``metrics_endpoint.start``, before anything else starts: a port it
  cannot bind fails the startup; the certificate's expiry is read from the live certificates at
  every scrape), the webhook server, the webhook configuration created or made to trust this
  replica's CA (``serving.ensure_webhook_configuration``; the rules and policies are the
  leader's), and the replica's tasks: the leader election (``leadership.Elector.run``),
  ``serving.rotate_forever``, ``refresh.refresh_forever`` (which acts only while leading) and,
  if configured, the readiness endpoint (``readiness.Readiness``) with its watch of the caBundle;
* ``cleanup``: not ready any more (first, so the Service stops sending admissions), those tasks
  cancelled, the Lease released so another replica leads at once, ``/metrics`` closed.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import kopf
from aiohttp import web

from stigg_operator import (
    certs,
    keys,
    leadership,
    metrics,
    metrics_endpoint,
    opt_in,
    readiness,
    refresh,
    serving,
    upkeep,
)
from stigg_operator import settings as operator_settings
from stigg_operator.kube import rest

TASKS = ("election", "rotation", "refresh", "readiness", "trust")


def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    """In-cluster service account, else the kubeconfig (as the kubernetes client finds them)."""
    return kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)


async def startup(
    *,
    settings: kopf.OperatorSettings,
    memo: kopf.Memo,
    config: operator_settings.Settings,
    ledger: upkeep.Ledger,
    elector: leadership.Elector,
    reported: opt_in.Reported,
    instruments: metrics.Metrics,
    **_: Any,
) -> None:
    settings.posting.level = logging.WARNING
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=keys.GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=keys.GROUP)
    await asyncio.to_thread(rest.load_config)
    live = certs.LiveCerts(await asyncio.to_thread(serving.ensure_certs, config, renew=False))
    memo["certs"] = live
    instruments.serve_certificate(lambda: live.current.serving_not_after)
    if config.metrics_port:  # before any task starts: a port it cannot bind fails the startup
        memo["metrics"] = await metrics_endpoint.start(
            instruments, config.metrics_address, config.metrics_port
        )
    settings.admission.server = kopf.WebhookServer(
        addr=config.webhook_address,
        port=config.webhook_port,
        context=live.context,
        certfile=live.bootstrap_cert,
        pkeyfile=live.bootstrap_key,
    )
    settings.admission.managed = None  # the configuration is ours: see webhookconfig
    await asyncio.to_thread(serving.ensure_webhook_configuration, config, live.current)
    memo["shared"] = {"ledger": ledger, "reported": reported}
    memo["election"] = asyncio.create_task(elector.run())
    memo["rotation"] = asyncio.create_task(serving.rotate_forever(config, live, lambda: elector.leading))
    memo["refresh"] = asyncio.create_task(refresh.refresh_forever(config, memo, elector, instruments))
    if config.readiness_endpoint:
        ready = readiness.Readiness(config, live)
        memo["ready"] = ready
        memo["trust"] = asyncio.create_task(ready.watch_trust())
        memo["readiness"] = asyncio.create_task(ready.serve(config.readiness_endpoint))


async def cleanup(*, memo: kopf.Memo, elector: leadership.Elector, **_: Any) -> None:
    ready = memo.get("ready")
    if isinstance(ready, readiness.Readiness):
        ready.stop()
    for task_name in TASKS:
        task = memo.get(task_name)
        if task is not None:
            task.cancel()
    await elector.release()
    live = memo.get("certs")
    if isinstance(live, certs.LiveCerts):
        live.close()
    endpoint = memo.get("metrics")
    if isinstance(endpoint, web.AppRunner):
        await endpoint.cleanup()

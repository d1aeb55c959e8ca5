"""The kopf adapters of the operator's own lifecycle: login, startup, cleanup.

* ``login``: the in-cluster service account, else the kubeconfig (as the kubernetes client
  finds them);
* ``startup``: kopf's settings (warnings and up posted as Events; progress and diff-base kept
  in annotations prefixed ``sidecar.stigg.io``), the kube config loaded, the webhook's
  certificates (``serving.ensure_certs``) in a live-swappable TLS context, the webhook server
  (its configuration is the operator's own, ``serving.apply_webhook_configuration``, not kopf's),
  and the operator's two tasks: ``serving.rotate_forever`` and ``refresh.refresh_forever``;
* ``cleanup``: those tasks cancelled.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any

import kopf

from stigg_operator import certs, keys, refresh, serving, upkeep
from stigg_operator import settings as operator_settings
from stigg_operator.kube import rest

TASKS = ("rotation", "refresh")


def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    """In-cluster service account, else the kubeconfig (as the kubernetes client finds them)."""
    return kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)


async def startup(
    *,
    settings: kopf.OperatorSettings,
    memo: kopf.Memo,
    config: operator_settings.Settings,
    ledger: upkeep.Ledger,
    **_: Any,
) -> None:
    settings.posting.level = logging.WARNING
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=keys.GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=keys.GROUP)
    await asyncio.to_thread(rest.load_config)
    live = certs.LiveCerts(await asyncio.to_thread(serving.ensure_certs, config))
    memo["certs"] = live
    settings.admission.server = kopf.WebhookServer(
        addr=config.webhook_address,
        port=config.webhook_port,
        context=live.context,
        certfile=live.bootstrap_cert,
        pkeyfile=live.bootstrap_key,
    )
    settings.admission.managed = None  # the configuration is ours: see webhookconfig
    await asyncio.to_thread(serving.apply_webhook_configuration, config, live.current.ca_pem)
    memo["shared"] = {"ledger": ledger}
    policies = functools.partial(memo["shared"].get, "policies")  # kept current by the refresh
    memo["rotation"] = asyncio.create_task(serving.rotate_forever(config, live, policies))
    memo["refresh"] = asyncio.create_task(refresh.refresh_forever(config, memo))


async def cleanup(*, memo: kopf.Memo, **_: Any) -> None:
    for task_name in TASKS:
        task = memo.get(task_name)
        if task is not None:
            task.cancel()
    live = memo.get("certs")
    if isinstance(live, certs.LiveCerts):
        live.close()

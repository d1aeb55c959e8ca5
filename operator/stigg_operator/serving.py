"""The webhook's serving side over time: its certificates and its configuration on the apiserver.

``ensure_certs`` loads the CA and serving certificate from their Secret and, when due
(``certs.needs_renewal``), issues new ones (a new CA only when the old one nears its end) and
writes them back. ``apply_webhook_configuration`` registers the MutatingWebhookConfiguration
(``webhookconfig``) with a CA as its caBundle and the namespaces' failure policies.
``rotate_forever`` is the operator's task that renews the serving certificate before it
expires and swaps it into the live TLS context (``certs.LiveCerts``), trusting a new CA before
serving with it, so no admission fails during a rotation. Each call makes its own API
client, as the kubernetes client's defaults do.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Callable

from kubernetes import client

from stigg_operator import certs, settings, webhookconfig
from stigg_operator.kube import admission, secrets

logger = logging.getLogger(__name__)


def ensure_certs(config: settings.Settings) -> certs.WebhookCerts:
    """Load the webhook's certificates from their Secret, renewing (or creating) them when due."""
    api = client.ApiClient()
    data = secrets.read_data(api, config.namespace, config.cert_secret)
    current, exists = certs.WebhookCerts.from_secret_data(data), data is not None
    now = datetime.datetime.now(datetime.UTC)
    if not certs.needs_renewal(current, config.webhook_hosts, now, config.cert_renew_before) and current:
        return current
    previous = None if certs.needs_new_ca(current, now, config.cert_validity) else current
    fresh = certs.issue(config.webhook_hosts, config.cert_validity, previous)
    secrets.write(api, config.namespace, config.cert_secret, fresh.secret_data(), exists=exists)
    logger.info("issued the webhook's serving certificate (serial %x), valid until %s",
                fresh.serial, fresh.serving_not_after.isoformat())  # fmt: skip
    return fresh


def apply_webhook_configuration(
    config: settings.Settings, ca_pem: bytes, policies: webhookconfig.FailurePolicies | None = None
) -> None:
    body = webhookconfig.body(config, ca_pem, policies)
    admission.put_webhook_configuration(client.ApiClient(), body)


async def rotate_forever(
    config: settings.Settings,
    live: certs.LiveCerts,
    policies: Callable[[], webhookconfig.FailurePolicies | None] = lambda: None,
) -> None:
    """Renew the serving certificate before it expires, without closing the listening socket;
    a configuration rewritten for a new CA keeps the failure policies last registered."""
    check_every = max(1.0, min(60.0, config.cert_renew_before.total_seconds() / 4))
    while True:
        await asyncio.sleep(check_every)
        try:
            fresh = await asyncio.to_thread(ensure_certs, config)
            if fresh.cert_pem != live.current.cert_pem:
                if fresh.ca_pem != live.current.ca_pem:  # a new CA: trust it before serving with it
                    await asyncio.to_thread(apply_webhook_configuration, config, fresh.ca_pem, policies())
                live.load(fresh)
                logger.info("rotated the webhook's serving certificate (serial %x)", fresh.serial)
        except Exception:  # a failed renewal is retried at the next check; the current cert still serves
            logger.exception("renewing the webhook's certificate failed")

"""The webhook's serving side over time: its certificates and its configuration on the apiserver,
shared by every replica (each serves the webhook; only the leader renews).

``ensure_certs`` loads the CA and serving certificate from their Secret and, when due
(``certs.needs_renewal``) and asked to ``renew``, issues new ones (a new CA only when the old
one nears its end, trusted by the webhook configuration *before* the Secret offers it to any
replica) and writes them back carrying the version read: of two replicas renewing at once one
wins and the other takes the winner's. A replica that finds nothing usable issues whether it
leads or not (the first start, or a deleted Secret). ``ensure_webhook_configuration`` is what a
starting replica does to the configuration: create it if there is none, else only make sure its
caBundle trusts the CA it serves with; the rules and the namespaces' failure policies are the
leader's (``apply_webhook_configuration``, from the refresh). ``rotate_forever`` is every
replica's task: the leader renews the serving certificate before it expires, the others load
what the leader wrote, each swapping it into its live TLS context (``certs.LiveCerts``) without
closing the listening socket, so no admission fails during a rotation. Each call makes its own
API client, as the kubernetes client's defaults do.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import logging
from collections.abc import Callable

from kubernetes import client

from stigg_operator import certs, settings, webhookconfig
from stigg_operator.kube import admission, secrets

logger = logging.getLogger(__name__)

RACES = 3  # lost renewal races in a row before giving up (each means another replica renewed)


def ensure_certs(config: settings.Settings, *, renew: bool = True) -> certs.WebhookCerts:
    """The webhook's certificates from their Secret, renewed when due and ``renew`` (or created)."""
    api = client.ApiClient()
    for _ in range(RACES):
        found = secrets.read_versioned(api, config.namespace, config.cert_secret)
        data, version = found if found is not None else (None, None)
        current = certs.WebhookCerts.from_secret_data(data)
        now = datetime.datetime.now(datetime.UTC)
        if current is not None and (
            not renew or not certs.needs_renewal(current, config.webhook_hosts, now, config.cert_renew_before)
        ):
            return current
        new_ca = certs.needs_new_ca(current, now, config.cert_validity)
        fresh = certs.issue(config.webhook_hosts, config.cert_validity, current, new_ca=new_ca)
        if current is not None and new_ca:  # trusted before any replica may serve with it
            admission.point(
                api, config.webhook_config_name, webhookconfig.client_config(config, fresh.bundle)
            )
        try:
            secrets.write_versioned(api, config.namespace, config.cert_secret, fresh.secret_data(), version)
        except secrets.Conflict:
            continue  # another replica renewed first: take its certificates
        logger.info("issued the webhook's serving certificate (serial %x), valid until %s",
                    fresh.serial, fresh.serving_not_after.isoformat())  # fmt: skip
        return fresh
    raise RuntimeError(f"Secret {config.namespace}/{config.cert_secret} kept changing while renewing it")


def ensure_webhook_configuration(config: settings.Settings, current: certs.WebhookCerts) -> None:
    """Create the configuration if there is none; else make it reach this replica (the same
    Service for every replica of a Deployment) and trust ``current``'s CA, if it does not yet."""
    api = client.ApiClient()
    found = admission.client_configs(api, config.webhook_config_name)
    if found is None:
        admission.put_webhook_configuration(api, webhookconfig.body(config, current.bundle))
        return
    ours = webhookconfig.client_config(config, current.bundle)
    where = {key: value for key, value in ours.items() if key != "caBundle"}
    if not found or any(
        {key: value for key, value in hook.items() if key != "caBundle"} != where
        or current.ca_pem not in base64.b64decode(hook.get("caBundle") or "")
        for hook in found
    ):
        admission.point(api, config.webhook_config_name, ours)


def apply_webhook_configuration(
    config: settings.Settings, bundle: bytes, policies: webhookconfig.FailurePolicies | None = None
) -> None:
    body = webhookconfig.body(config, bundle, policies)
    admission.put_webhook_configuration(client.ApiClient(), body)


async def rotate_forever(
    config: settings.Settings, live: certs.LiveCerts, leading: Callable[[], bool]
) -> None:
    """Renew the serving certificate before it expires if ``leading``, else load the leader's."""
    check_every = max(1.0, min(60.0, config.cert_renew_before.total_seconds() / 4))
    while True:
        await asyncio.sleep(check_every)
        try:
            fresh = await asyncio.to_thread(ensure_certs, config, renew=leading())
            if fresh.cert_pem != live.current.cert_pem:
                live.load(fresh)
                logger.info("now serving the webhook's certificate of serial %x", fresh.serial)
        except Exception:  # a failed renewal is retried at the next check; the current cert still serves
            logger.exception("renewing the webhook's certificate failed")

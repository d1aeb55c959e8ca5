"""Readiness: a replica is ready while it serves admissions with a valid, trusted certificate.

The Service sends admission requests only to ready replicas, so ``/readyz`` (the endpoint
``STIGG_OPERATOR_READINESS_ENDPOINT``) answers 200 only when all of these hold, else 503 with
the reason:

* the replica is not stopping (``stop``: from the first moment of shutdown, before the webhook
  server closes, so the endpoint leaves the Service while admissions are still answered);
* a TLS handshake with its own webhook port succeeds, verified against the CA it serves with and
  for the Service's host name: the server listens and presents the current certificate;
* that certificate is within its validity;
* the webhook configuration's caBundle trusts that CA (``watch_trust`` reads it every
  ``TRUST_EVERY`` seconds; an apiserver that cannot be read keeps the last answer, since an
  unreachable apiserver sends no admissions either).

The probe is liveness's sibling, not kopf's: kopf's liveness endpoint says the event loop runs,
which is true of a replica that cannot serve a single admission.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import ssl
import urllib.parse

from aiohttp import web
from cryptography import x509
from kubernetes import client

from stigg_operator import certs, settings
from stigg_operator.kube import admission

logger = logging.getLogger(__name__)

TRUST_EVERY = 10.0
HANDSHAKE_TIMEOUT = 2.0


class Readiness:
    def __init__(self, config: settings.Settings, live: certs.LiveCerts) -> None:
        self._config, self._live = config, live
        self.stopping = False
        self.trusted: bool | None = None  # None: not read yet

    def stop(self) -> None:
        self.stopping = True

    async def problem(self) -> str | None:
        """Why this replica must not receive admissions now, or None if it may."""
        if self.stopping:
            return "shutting down"
        current = self._live.current
        now = datetime.datetime.now(datetime.UTC)
        cert = x509.load_pem_x509_certificate(current.cert_pem)
        if not cert.not_valid_before_utc <= now < cert.not_valid_after_utc:
            valid = f"{cert.not_valid_before_utc.isoformat()} to {cert.not_valid_after_utc.isoformat()}"
            return f"the serving certificate is not valid now (valid {valid})"
        if self.trusted is None:
            return "the webhook configuration's caBundle has not been read yet"
        if not self.trusted:
            return "the webhook configuration's caBundle does not trust this replica's CA"
        return await self._handshake(current)

    async def _handshake(self, current: certs.WebhookCerts) -> str | None:
        context = ssl.create_default_context(cadata=current.ca_pem.decode())
        host = self._config.webhook_address
        host = "127.0.0.1" if host in {"0.0.0.0", "::", ""} else host  # noqa: S104 -- any address: loopback
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(
                    host,
                    self._config.webhook_port,
                    ssl=context,
                    server_hostname=self._config.webhook_hosts[0],
                ),
                HANDSHAKE_TIMEOUT,
            )
        except (OSError, TimeoutError, ssl.SSLError) as error:
            return f"the webhook does not complete a verified TLS handshake: {error}"
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()
        return None

    async def watch_trust(self) -> None:
        """Keep ``trusted`` current: does every webhook's caBundle hold the CA served with?"""
        while True:
            try:
                found = await asyncio.to_thread(
                    admission.bundles, client.ApiClient(), self._config.webhook_config_name
                )
                ca = self._live.current.ca_pem
                self.trusted = bool(found) and all(ca in bundle for bundle in found or [])
            except Exception:  # keep the last answer
                logger.exception("reading the webhook configuration's caBundle failed")
            await asyncio.sleep(TRUST_EVERY)

    async def serve(self, endpoint: str) -> None:
        """Answer ``GET <path>`` at ``endpoint`` (http://host:port/path) until cancelled."""
        parts = urllib.parse.urlsplit(endpoint)

        async def handle(_: web.Request) -> web.Response:
            problem = await self.problem()
            if problem is None:
                return web.Response(text="ready\n")
            return web.Response(status=503, text=f"not ready: {problem}\n")

        app = web.Application()
        app.router.add_get(parts.path or "/", handle)
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, parts.hostname, parts.port or 80)
        await site.start()
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

"""The operator's settings: one immutable object, read from the environment once at start.

Each field below declares its variable, default and meaning once (``stigg_envspec``); the
table is generated from them (``make settings-docs``; a test checks it is current). A bad
value stops the start with a ``SettingsError`` naming the variable.

| variable | default | meaning |
| --- | --- | --- |
| STIGG_OPERATOR_NAMESPACE | stigg-system | the operator's namespace (holds cluster-default; never injected) |
| STIGG_OPERATOR_WEBHOOK_ADDRESS | 0.0.0.0 | where the webhook server listens |
| STIGG_OPERATOR_WEBHOOK_PORT | 9443 | its port |
| STIGG_OPERATOR_WEBHOOK_URL | (unset) | how the apiserver reaches it, e.g. https://127.0.0.1:9443 (local) |
| STIGG_OPERATOR_WEBHOOK_SERVICE | stigg-operator | else: the Service in front of it (operator namespace) |
| STIGG_OPERATOR_WEBHOOK_CONFIG | stigg-sidecar-injector | the MutatingWebhookConfiguration's name |
| STIGG_OPERATOR_CERT_SECRET | stigg-operator-webhook-certs | the Secret with the webhook's CA and cert |
| STIGG_OPERATOR_CERT_VALIDITY_HOURS | 8760 | validity of a serving certificate, in hours |
| STIGG_OPERATOR_CERT_RENEW_BEFORE_HOURS | 720 | hours before expiry to renew a serving certificate |
| STIGG_OPERATOR_FAILURE_POLICY | Fail | the webhook's failurePolicy (Fail or Ignore) |
| STIGG_OPERATOR_SIDECAR_IMAGE | ghcr.io/stigg-entitlements/sidecar:0.1.0 | the image injected by default |
| STIGG_OPERATOR_STATUS_INTERVAL_SECONDS | 10 | how often every status is refreshed (injected Pods) |
| STIGG_OPERATOR_DRIFT_INTERVAL_SECONDS | 60 | how often opted-in Pods are searched for a missing sidecar |
| STIGG_OPERATOR_LIVENESS_ENDPOINT | (unset) | kopf's liveness endpoint, e.g. http://0.0.0.0:8080/healthz |
| STIGG_OPERATOR_READINESS_ENDPOINT | (unset) | /readyz, e.g. http://0.0.0.0:8081/readyz (see readiness.py) |
| STIGG_OPERATOR_METRICS_ADDRESS | 0.0.0.0 | where /metrics listens (Prometheus text format; see metrics.py) |
| STIGG_OPERATOR_METRICS_PORT | 8082 | its port (0: no metrics endpoint) |
| STIGG_OPERATOR_LEASE_NAME | stigg-operator | the Lease the replicas elect their writer with |
| STIGG_OPERATOR_LEASE_DURATION_SECONDS | 15 | how long an unrenewed Lease lasts before a takeover |
| STIGG_OPERATOR_POD_NAME | (unset) | this replica's name in the Lease (default: host name) |
"""

from __future__ import annotations

import dataclasses
import datetime
import urllib.parse
from collections.abc import Mapping

import stigg_envspec as env
from stigg_operator import model

SettingsError = env.SettingsError
_HOURS = env.hours(87600)


def _https_url(raw: str) -> str:
    if not raw.startswith("https://"):
        raise ValueError(f"must start with https://, got {raw!r}")
    return raw.rstrip("/")


def _interval(high: int) -> env.Parser[float]:
    whole = env.integer(1, high)
    return lambda raw: float(whole(raw))


@dataclasses.dataclass(frozen=True)
class Settings:
    namespace: str = env.var(
        "STIGG_OPERATOR_NAMESPACE",
        "stigg-system",
        "the operator's namespace (holds cluster-default; never injected)",
    )
    webhook_address: str = env.var(
        "STIGG_OPERATOR_WEBHOOK_ADDRESS",
        "0.0.0.0",  # noqa: S104 -- the apiserver must reach it
        "where the webhook server listens",
    )
    webhook_port: int = env.var("STIGG_OPERATOR_WEBHOOK_PORT", 9443, "its port", parse=env.integer(1, 65535))
    webhook_url: str | None = env.var(
        "STIGG_OPERATOR_WEBHOOK_URL",
        None,
        "how the apiserver reaches it, e.g. https://127.0.0.1:9443 (local)",
        parse=_https_url,
    )
    webhook_service: str = env.var(
        "STIGG_OPERATOR_WEBHOOK_SERVICE",
        "stigg-operator",
        "else: the Service in front of it (operator namespace)",
    )
    webhook_config_name: str = env.var(
        "STIGG_OPERATOR_WEBHOOK_CONFIG", "stigg-sidecar-injector", "the MutatingWebhookConfiguration's name"
    )
    cert_secret: str = env.var(
        "STIGG_OPERATOR_CERT_SECRET",
        "stigg-operator-webhook-certs",
        "the Secret with the webhook's CA and cert",
    )
    cert_validity: datetime.timedelta = env.var(
        "STIGG_OPERATOR_CERT_VALIDITY_HOURS",
        datetime.timedelta(hours=8760),
        "validity of a serving certificate, in hours",
        parse=_HOURS,
    )
    cert_renew_before: datetime.timedelta = env.var(
        "STIGG_OPERATOR_CERT_RENEW_BEFORE_HOURS",
        datetime.timedelta(hours=720),
        "hours before expiry to renew a serving certificate",
        parse=_HOURS,
    )
    failure_policy: str = env.var(
        "STIGG_OPERATOR_FAILURE_POLICY",
        "Fail",
        "the webhook's failurePolicy (Fail or Ignore)",
        parse=env.choice({"Fail": "Fail", "Ignore": "Ignore"}),
    )
    sidecar_image: str = env.var(
        "STIGG_OPERATOR_SIDECAR_IMAGE", model.SIDECAR_IMAGE, "the image injected by default"
    )
    status_interval_seconds: float = env.var(
        "STIGG_OPERATOR_STATUS_INTERVAL_SECONDS",
        10.0,
        "how often every status is refreshed (injected Pods)",
        parse=_interval(3600),
    )
    drift_interval_seconds: float = env.var(
        "STIGG_OPERATOR_DRIFT_INTERVAL_SECONDS",
        60.0,
        "how often opted-in Pods are searched for a missing sidecar",
        parse=_interval(86400),
    )

    liveness_endpoint: str | None = env.var(
        "STIGG_OPERATOR_LIVENESS_ENDPOINT",
        None,
        "kopf's liveness endpoint, e.g. http://0.0.0.0:8080/healthz",
        parse=env.url({"http"}),
    )
    readiness_endpoint: str | None = env.var(
        "STIGG_OPERATOR_READINESS_ENDPOINT",
        None,
        "/readyz, e.g. http://0.0.0.0:8081/readyz (see readiness.py)",
        parse=env.url({"http"}),
    )
    metrics_address: str = env.var(
        "STIGG_OPERATOR_METRICS_ADDRESS",
        "0.0.0.0",  # noqa: S104 -- Prometheus scrapes it from another Pod
        "where /metrics listens (Prometheus text format; see metrics.py)",
    )
    metrics_port: int = env.var(
        "STIGG_OPERATOR_METRICS_PORT", 8082, "its port (0: no metrics endpoint)", parse=env.integer(0, 65535)
    )
    lease_name: str = env.var(
        "STIGG_OPERATOR_LEASE_NAME",
        "stigg-operator",
        "the Lease the replicas elect their writer with",
    )
    lease_duration_seconds: float = env.var(
        "STIGG_OPERATOR_LEASE_DURATION_SECONDS",
        15.0,
        "how long an unrenewed Lease lasts before a takeover",
        parse=_interval(300),
    )
    pod_name: str = env.var(
        "STIGG_OPERATOR_POD_NAME",
        "",
        "this replica's name in the Lease (default: host name)",
    )

    def __post_init__(self) -> None:
        if self.cert_renew_before >= self.cert_validity:
            raise SettingsError("STIGG_OPERATOR_CERT_RENEW_BEFORE_HOURS: must be less than the validity")

    @property
    def operator_defaults(self) -> model.OperatorDefaults:
        return model.OperatorDefaults(sidecar_image=self.sidecar_image, failure_policy=self.failure_policy)

    @property
    def webhook_hosts(self) -> list[str]:
        """The names the serving certificate must be valid for."""
        if self.webhook_url:
            host = urllib.parse.urlsplit(self.webhook_url).hostname or ""
            return [host, "localhost", "127.0.0.1"] if host not in {"localhost", "127.0.0.1"} else [host]
        service = f"{self.webhook_service}.{self.namespace}"
        return [service, f"{service}.svc", f"{service}.svc.cluster.local"]

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Read and validate every variable; raise ``SettingsError`` on the first bad one."""
        return env.read(cls, environ)

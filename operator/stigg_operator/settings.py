"""The operator's settings: one immutable object, read from the environment once at start.

| variable | default | meaning |
| --- | --- | --- |
| STIGG_OPERATOR_NAMESPACE | stigg-system | the operator's namespace (holds cluster-default; never injected) |
| STIGG_OPERATOR_WEBHOOK_ADDRESS | 0.0.0.0 | where the webhook server listens |
| STIGG_OPERATOR_WEBHOOK_PORT | 9443 | its port |
| STIGG_OPERATOR_WEBHOOK_URL | (unset) | how the apiserver reaches it, e.g. https://127.0.0.1:9443 (local) |
| STIGG_OPERATOR_WEBHOOK_SERVICE | stigg-operator | else: the Service in front of it (operator namespace) |
| STIGG_OPERATOR_WEBHOOK_CONFIG | stigg-sidecar-injector | the MutatingWebhookConfiguration's name |
| STIGG_OPERATOR_CERT_SECRET | stigg-operator-webhook-certs | the Secret with the webhook's CA and cert |
| STIGG_OPERATOR_CERT_VALIDITY_HOURS | 8760 | validity of a serving certificate |
| STIGG_OPERATOR_CERT_RENEW_BEFORE_HOURS | 720 | renew a serving certificate this long before it expires |
| STIGG_OPERATOR_FAILURE_POLICY | Fail | the webhook's failurePolicy (Fail or Ignore) |
| STIGG_OPERATOR_SIDECAR_IMAGE | ghcr.io/stigg-entitlements/sidecar:0.1.0 | the image injected by default |
| STIGG_OPERATOR_STATUS_INTERVAL_SECONDS | 10 | how often injected Pods are counted and Secrets re-checked |
| STIGG_OPERATOR_DRIFT_INTERVAL_SECONDS | 60 | how often opted-in Pods are searched for a missing sidecar |
"""

from __future__ import annotations

import dataclasses
import datetime
import urllib.parse
from collections.abc import Mapping

from stigg_operator import model


class SettingsError(ValueError):
    """A variable is invalid; the message starts with its name."""


@dataclasses.dataclass(frozen=True)
class Settings:
    namespace: str = "stigg-system"
    webhook_address: str = "0.0.0.0"  # noqa: S104 -- the apiserver must reach it
    webhook_port: int = 9443
    webhook_url: str | None = None
    webhook_service: str = "stigg-operator"
    webhook_config_name: str = "stigg-sidecar-injector"
    cert_secret: str = "stigg-operator-webhook-certs"  # noqa: S105 -- a Secret's name, not a secret
    cert_validity: datetime.timedelta = datetime.timedelta(hours=8760)
    cert_renew_before: datetime.timedelta = datetime.timedelta(hours=720)
    failure_policy: str = "Fail"
    sidecar_image: str = model.SIDECAR_IMAGE
    status_interval_seconds: float = 10.0
    drift_interval_seconds: float = 60.0

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
        def get(name: str, default: str) -> str:
            return environ.get(name, "").strip() or default

        def integer(name: str, default: int, low: int, high: int) -> int:
            raw = get(name, str(default))
            try:
                value = int(raw)
            except ValueError:
                raise SettingsError(f"{name}: must be an integer, got {raw!r}") from None
            if not low <= value <= high:
                raise SettingsError(f"{name}: must be between {low} and {high}, got {value}")
            return value

        def hours(name: str, default: float) -> float:
            raw = get(name, str(default))
            try:
                value = float(raw)
            except ValueError:
                raise SettingsError(f"{name}: must be a number of hours, got {raw!r}") from None
            if not 0 < value <= 87600:
                raise SettingsError(f"{name}: must be more than 0 and at most 87600 hours, got {raw}")
            return value

        failure_policy = get("STIGG_OPERATOR_FAILURE_POLICY", "Fail")
        if failure_policy not in {"Fail", "Ignore"}:
            raise SettingsError(
                f"STIGG_OPERATOR_FAILURE_POLICY: must be Fail or Ignore, got {failure_policy!r}"
            )
        url = environ.get("STIGG_OPERATOR_WEBHOOK_URL", "").strip() or None
        if url is not None and not url.startswith("https://"):
            raise SettingsError(f"STIGG_OPERATOR_WEBHOOK_URL: must start with https://, got {url!r}")
        validity = hours("STIGG_OPERATOR_CERT_VALIDITY_HOURS", 8760)
        renew = hours("STIGG_OPERATOR_CERT_RENEW_BEFORE_HOURS", 720)
        if renew >= validity:
            raise SettingsError("STIGG_OPERATOR_CERT_RENEW_BEFORE_HOURS: must be less than the validity")
        return cls(
            namespace=get("STIGG_OPERATOR_NAMESPACE", "stigg-system"),
            webhook_address=get("STIGG_OPERATOR_WEBHOOK_ADDRESS", "0.0.0.0"),  # noqa: S104
            webhook_port=integer("STIGG_OPERATOR_WEBHOOK_PORT", 9443, 1, 65535),
            webhook_url=url.rstrip("/") if url else None,
            webhook_service=get("STIGG_OPERATOR_WEBHOOK_SERVICE", "stigg-operator"),
            webhook_config_name=get("STIGG_OPERATOR_WEBHOOK_CONFIG", "stigg-sidecar-injector"),
            cert_secret=get("STIGG_OPERATOR_CERT_SECRET", "stigg-operator-webhook-certs"),
            cert_validity=datetime.timedelta(hours=validity),
            cert_renew_before=datetime.timedelta(hours=renew),
            failure_policy=failure_policy,
            sidecar_image=get("STIGG_OPERATOR_SIDECAR_IMAGE", model.SIDECAR_IMAGE),
            status_interval_seconds=float(integer("STIGG_OPERATOR_STATUS_INTERVAL_SECONDS", 10, 1, 3600)),
            drift_interval_seconds=float(integer("STIGG_OPERATOR_DRIFT_INTERVAL_SECONDS", 60, 1, 86400)),
        )

"""The webhook's certificates: a CA (its certificate is the caBundle the apiserver trusts) and a
serving certificate it signs, kept in a Secret, renewed before they expire.

Renewal re-issues only the serving certificate, signed by the same CA, so the caBundle in the
MutatingWebhookConfiguration stays valid throughout; the new certificate is loaded into the
live ``ssl.SSLContext`` of the webhook server (new handshakes use it, the listening socket never
closes), so no admission request fails during a rotation. The CA itself lives ten times as long
and is replaced only when it nears its own end; the replaced CA is kept beside the new one
(``ca-previous.crt``) and stays in the trust bundle (``WebhookCerts.bundle``) until it expires,
so a replica still serving a certificate of the old CA keeps being trusted while it loads the
new one (every replica serves the webhook).

Pure parts (``issue``, ``needs_renewal``, Secret (de)serialisation) have no I/O; ``LiveCerts``
owns the files and the SSL context of the running server.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import pathlib
import shutil
import ssl
import tempfile

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from stigg_operator import pki

_KEYS = ("ca.crt", "ca.key", "tls.crt", "tls.key")
_PREVIOUS_CA = "ca-previous.crt"


@dataclasses.dataclass(frozen=True)
class WebhookCerts:
    ca_pem: bytes
    ca_key_pem: bytes
    cert_pem: bytes
    key_pem: bytes
    previous_ca_pem: bytes = b""  # the CA this one replaced, trusted until it expires

    @property
    def bundle(self) -> bytes:
        """The caBundle that trusts this serving certificate and, while valid, the previous CA's."""
        if not self.previous_ca_pem:
            return self.ca_pem
        previous = x509.load_pem_x509_certificate(self.previous_ca_pem)
        if previous.not_valid_after_utc <= datetime.datetime.now(datetime.UTC):
            return self.ca_pem
        return self.ca_pem + self.previous_ca_pem

    @property
    def serving_not_after(self) -> datetime.datetime:
        return x509.load_pem_x509_certificate(self.cert_pem).not_valid_after_utc

    @property
    def ca_not_after(self) -> datetime.datetime:
        return x509.load_pem_x509_certificate(self.ca_pem).not_valid_after_utc

    @property
    def serial(self) -> int:
        return x509.load_pem_x509_certificate(self.cert_pem).serial_number

    def secret_data(self) -> dict[str, str]:
        values = (self.ca_pem, self.ca_key_pem, self.cert_pem, self.key_pem)
        data = {name: base64.b64encode(value).decode() for name, value in zip(_KEYS, values, strict=True)}
        if self.previous_ca_pem:
            data[_PREVIOUS_CA] = base64.b64encode(self.previous_ca_pem).decode()
        return data

    @classmethod
    def from_secret_data(cls, data: dict[str, str] | None) -> WebhookCerts | None:
        if not data or any(name not in data for name in _KEYS):
            return None
        try:
            ca, ca_key, cert, key = (base64.b64decode(data[name]) for name in _KEYS)
            return cls(ca, ca_key, cert, key, base64.b64decode(data.get(_PREVIOUS_CA) or ""))
        except ValueError:
            return None


def issue(
    hosts: list[str],
    validity: datetime.timedelta,
    previous: WebhookCerts | None = None,
    *,
    new_ca: bool = False,
) -> WebhookCerts:
    """A serving certificate for ``hosts``, signed by the previous CA if there is one (and no
    ``new_ca`` is asked for), else by a new CA that keeps the one it replaces as its previous."""
    if previous is not None and not new_ca:
        key = serialization.load_pem_private_key(previous.ca_key_pem, password=None)
        ca = pki.CertificateAuthority(key=key, cert=x509.load_pem_x509_certificate(previous.ca_pem))  # type: ignore[arg-type]
        ca_pem, ca_key_pem, replaced = previous.ca_pem, previous.ca_key_pem, previous.previous_ca_pem
    else:
        ca = pki.CertificateAuthority.create("stigg-operator-webhook-ca")
        ca_pem = ca.cert_pem
        ca_key_pem = ca.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        replaced = previous.ca_pem if previous is not None else b""
    pair = ca.issue_serving(hosts[0], hosts, validity)
    return WebhookCerts(ca_pem, ca_key_pem, pair.cert_pem, pair.key_pem, previous_ca_pem=replaced)


def needs_renewal(
    certs: WebhookCerts | None, hosts: list[str], now: datetime.datetime, renew_before: datetime.timedelta
) -> bool:
    """True if there is nothing usable, or the serving certificate nears its end or misses a host."""
    if certs is None:
        return True
    try:
        cert = x509.load_pem_x509_certificate(certs.cert_pem)
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        return True
    names = {str(v) for v in sans.get_values_for_type(x509.DNSName)} | {
        str(v) for v in sans.get_values_for_type(x509.IPAddress)
    }
    return cert.not_valid_after_utc - now <= renew_before or not set(hosts) <= names


def needs_new_ca(certs: WebhookCerts | None, now: datetime.datetime, validity: datetime.timedelta) -> bool:
    """The CA must outlive the next serving certificate, else start over with a new one."""
    return certs is None or certs.ca_not_after - now <= validity


class LiveCerts:
    """The certificate files and the SSL context of the running webhook server.

    kopf's webhook server is given the context and a *bootstrap* copy of the first certificate
    (it insists on files, and restarts its server whenever they change); rotations load new
    certificates into the same context from other files, so kopf never restarts the server.
    """

    def __init__(self, certs: WebhookCerts) -> None:
        self._dir = pathlib.Path(tempfile.mkdtemp(prefix="stigg-operator-certs-"))
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.bootstrap_cert, self.bootstrap_key = self._write(certs, "bootstrap")
        self.current = certs
        self.load(certs)

    def _write(self, certs: WebhookCerts, stem: str) -> tuple[pathlib.Path, pathlib.Path]:
        cert_path, key_path = self._dir / f"{stem}.crt", self._dir / f"{stem}.key"
        cert_path.write_bytes(certs.cert_pem)
        key_path.touch(mode=0o600)
        key_path.write_bytes(certs.key_pem)
        return cert_path, key_path

    @property
    def directory(self) -> pathlib.Path:
        return self._dir

    def close(self) -> None:
        """Remove the certificate files (at shutdown: the running context keeps what it loaded)."""
        shutil.rmtree(self._dir, ignore_errors=True)

    def load(self, certs: WebhookCerts) -> None:
        """Swap in new certificates: new handshakes use them; open connections are unaffected."""
        cert_path, key_path = self._write(certs, "tls")
        self.context.load_cert_chain(cert_path, key_path)
        self.current = certs

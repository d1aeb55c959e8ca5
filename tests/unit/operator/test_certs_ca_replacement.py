"""A replaced CA stays trusted beside the new one (``WebhookCerts.bundle``) until it expires, so
a replica still serving a certificate of the old CA is trusted while it loads the new one; the
previous CA survives the Secret round trip and later renewals by the new CA. Pure."""

from __future__ import annotations

import dataclasses
import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from stigg_operator import certs

HOSTS = ["stigg-operator.stigg-system.svc"]
HOUR = datetime.timedelta(hours=1)


def test_a_new_ca_keeps_the_old_one_in_the_bundle() -> None:
    first = certs.issue(HOSTS, HOUR)
    assert first.bundle == first.ca_pem, "nothing replaced yet: one CA"
    replaced = certs.issue(HOSTS, HOUR, first, new_ca=True)
    assert replaced.ca_pem != first.ca_pem
    assert replaced.previous_ca_pem == first.ca_pem
    assert replaced.bundle == replaced.ca_pem + first.ca_pem
    x509.load_pem_x509_certificate(replaced.cert_pem).verify_directly_issued_by(
        x509.load_pem_x509_certificate(replaced.ca_pem)
    )


def test_the_previous_ca_survives_the_secret_and_renewals() -> None:
    replaced = certs.issue(HOSTS, HOUR, certs.issue(HOSTS, HOUR), new_ca=True)
    loaded = certs.WebhookCerts.from_secret_data(replaced.secret_data())
    assert loaded == replaced
    renewed = certs.issue(HOSTS, HOUR, loaded)
    assert renewed.ca_pem == replaced.ca_pem
    assert renewed.previous_ca_pem == replaced.previous_ca_pem, "a renewal by the same CA keeps it"
    assert "ca-previous.crt" not in certs.issue(HOSTS, HOUR).secret_data(), "none: no key"


def _expired_ca_pem() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "old-ca")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - 2 * HOUR)
        .not_valid_after(now - HOUR)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def test_an_expired_previous_ca_leaves_the_bundle() -> None:
    current = certs.issue(HOSTS, HOUR)
    with_expired = dataclasses.replace(current, previous_ca_pem=_expired_ca_pem())
    assert with_expired.bundle == current.ca_pem

"""Webhook certificates: issued for the webhook's hosts, renewed before expiry by the same CA
(so the caBundle stays valid), and stored in a Secret's data."""

from __future__ import annotations

import datetime

from cryptography import x509

from stigg_operator import certs

HOSTS = ["127.0.0.1", "localhost"]


def test_renewal_keeps_the_ca() -> None:
    # Read the clock after issuing: the certificate is valid for an hour from the real clock.
    first = certs.issue(HOSTS, datetime.timedelta(hours=1))
    now = datetime.datetime.now(datetime.UTC)
    assert not certs.needs_renewal(first, HOSTS, now, datetime.timedelta(minutes=10))
    assert certs.needs_renewal(
        first, HOSTS, now + datetime.timedelta(minutes=55), datetime.timedelta(minutes=10)
    )
    assert certs.needs_renewal(first, [*HOSTS, "other.example"], now, datetime.timedelta(minutes=10))

    renewed = certs.issue(HOSTS, datetime.timedelta(hours=1), previous=first)
    assert renewed.ca_pem == first.ca_pem
    assert renewed.serial != first.serial
    x509.load_pem_x509_certificate(renewed.cert_pem).verify_directly_issued_by(
        x509.load_pem_x509_certificate(first.ca_pem)
    )


def test_secret_round_trip_and_garbage() -> None:
    issued = certs.issue(HOSTS, datetime.timedelta(hours=1))
    assert certs.WebhookCerts.from_secret_data(issued.secret_data()) == issued
    assert certs.WebhookCerts.from_secret_data({"ca.crt": "x"}) is None
    assert certs.WebhookCerts.from_secret_data(None) is None
    assert certs.needs_renewal(None, HOSTS, datetime.datetime.now(datetime.UTC), datetime.timedelta(0))


def test_live_context_swaps_certificates() -> None:
    first = certs.issue(HOSTS, datetime.timedelta(hours=1))
    live = certs.LiveCerts(first)
    try:
        second = certs.issue(HOSTS, datetime.timedelta(hours=1), previous=first)
        live.load(second)
        assert live.current == second
        assert live.bootstrap_cert.read_bytes() == first.cert_pem, (
            "kopf's files never change (no server restart)"
        )
    finally:
        live.close()
    assert not live.directory.exists(), "closing removes the certificate files"

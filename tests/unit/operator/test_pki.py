"""Certificates made by ``stigg_operator.pki`` verify against their CA and carry what Kubernetes reads."""

from __future__ import annotations

import ipaddress
import pathlib
import stat

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from stigg_operator import pki


def test_serving_certificate_names_and_signature() -> None:
    ca = pki.CertificateAuthority.create()
    pair = ca.issue_serving("webhook", ["127.0.0.1", "webhook.ns.svc"])
    cert = x509.load_pem_x509_certificate(pair.cert_pem)

    cert.verify_directly_issued_by(ca.cert)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert sans.get_values_for_type(x509.DNSName) == ["webhook.ns.svc"]
    usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usages) == [ExtendedKeyUsageOID.SERVER_AUTH]


def test_client_certificate_carries_user_and_groups() -> None:
    ca = pki.CertificateAuthority.create()
    cert = x509.load_pem_x509_certificate(ca.issue_client("alice", ("system:masters", "devs")).cert_pem)

    cert.verify_directly_issued_by(ca.cert)
    assert [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)] == ["alice"]
    assert [a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)] == [
        "system:masters",
        "devs",
    ]


def test_written_ca_loads_back_with_private_key_mode(tmp_path: pathlib.Path) -> None:
    ca = pki.CertificateAuthority.create()
    cert_path, key_path = ca.write(tmp_path)

    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    loaded = pki.CertificateAuthority.load(cert_path, key_path)
    assert loaded.cert == ca.cert
    assert isinstance(loaded.key, ec.EllipticCurvePrivateKey)
    issued = x509.load_pem_x509_certificate(loaded.issue_client("bob").cert_pem)
    issued.verify_directly_issued_by(ca.cert)
